"""The admin dashboard at ``/ui``: server-rendered pages over the same services as the management API.

:func:`build_dashboard` assembles it; :class:`~bastion.web.dashboard.Dashboard` routes, logs in and
guards every page. Every page reads and changes through the administration services
(:mod:`bastion.administration`), never the store. See docs/dashboard.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bastion.accounts.users import AccountService
from bastion.administration import Administration
from bastion.auth.keys import static_key_label
from bastion.domain.secret import Secret
from bastion.gateway.router import Router
from bastion.limits.login import LoginThrottle
from bastion.settings.model import StaticKey
from bastion.web.dashboard import Dashboard
from bastion.web.keys import KeyPages, StaticKeyView
from bastion.web.pages import ReadPages
from bastion.web.plans import PlanPages
from bastion.web.requests import RequestPages
from bastion.web.spend import SpendPages
from bastion.web.teams import TeamPages

__all__ = ["Dashboard", "build_dashboard"]


def build_dashboard(
    *,
    admin: Administration,
    accounts: AccountService,
    router: Router,
    master_key: Secret | None,
    signing_secret: Callable[[], Secret],
    throttle: LoginThrottle,
    billing: bool,
    static_keys: Sequence[StaticKey] = (),
) -> Dashboard:
    """The dashboard; every page group adds its routes (and the nav in ``_html.NAV`` links them)."""
    shown = [
        StaticKeyView(label, label[:64], key.models)
        for key in static_keys
        for label in (static_key_label(key),)
    ]
    pages = {
        **ReadPages(admin, router, billing=billing).pages(),
        **RequestPages(admin).pages(),
        **SpendPages(admin).pages(),
        **KeyPages(admin.keys, admin.spend, static_keys=shown).pages(),
        **TeamPages(admin.teams).pages(),
        **PlanPages(admin.plans).pages(),
    }
    return Dashboard(
        signing_secret=signing_secret,
        master_key=master_key,
        accounts=accounts,
        throttle=throttle,
        sessions=admin.sessions,
        pages=pages,
    )
