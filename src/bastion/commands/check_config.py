"""``bastion check-config``: load a config as ``bastion serve`` would, list every problem, and warn
about what is allowed but would fail later."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from bastion.domain.errors import ConfigError
from bastion.settings import Settings, load_settings
from bastion.settings.checks import deployments_without_credentials

if TYPE_CHECKING:
    from bastion.api.server import GatewayApp

__all__ = [
    "CHECKS",
    "PROBLEM_CHECKS",
    "check_config",
    "checked_app",
    "config_problems",
    "config_warnings",
    "counted",
    "route_collisions",
]


def route_collisions(settings: Settings) -> list[str]:
    """Build the gateway's route table as ``serve`` would (nothing is started, nothing connects):
    one line per path that two routes would answer (a configurable one included) or route without
    a guard."""
    return _built(settings, migrate=False)[1]


def _built(
    settings: Settings, *, migrate: bool, work_aside: bool = False
) -> tuple[GatewayApp | None, list[str]]:
    from bastion.app import build_app

    try:
        return build_app(settings, migrate=migrate, work_aside=work_aside), []
    except ConfigError as exc:
        return None, str(exc).splitlines()


#: Checks run on a config that loaded: each returns one line per finding. A new check is one more
#: entry here; ``bastion serve`` logs the same lines at start-up.
CHECKS: tuple[Callable[[Settings], Iterable[str]], ...] = (deployments_without_credentials,)

#: Checks whose findings are problems, like a key the loader refuses: ``check-config`` exits with
#: status 2 and ``bastion serve`` does not start.
PROBLEM_CHECKS: tuple[Callable[[Settings], Iterable[str]], ...] = (route_collisions,)


def config_warnings(settings: Settings) -> list[str]:
    """What every check in :data:`CHECKS` finds in ``settings``."""
    return [line for check in CHECKS for line in check(settings)]


def config_problems(settings: Settings) -> list[str]:
    """What every check in :data:`PROBLEM_CHECKS` finds in ``settings``."""
    return [line for check in PROBLEM_CHECKS for line in check(settings)]


def checked_app(settings: Settings, *, migrate: bool) -> tuple[GatewayApp | None, list[str]]:
    """The gateway ``bastion serve`` runs, built once (nothing started, nothing listening), and
    what every check in :data:`PROBLEM_CHECKS` finds: ``(None, problems)`` when there are any.
    The route collisions are the build's own findings, so the gateway is not built twice."""
    problems = [line for check in PROBLEM_CHECKS if check is not route_collisions for line in check(settings)]
    app, collisions = _built(settings, migrate=migrate, work_aside=True)
    problems += collisions
    return (None, problems) if problems else (app, [])


def check_config(path: str) -> int:
    """Print every problem (exit status 2), or OK with the warnings (exit status 0)."""
    try:
        settings = load_settings(path)
        problems = config_problems(settings)
    except ConfigError as exc:
        problems = str(exc).splitlines()
    if problems:
        for line in problems:
            print(f"bastion: {line}", file=sys.stderr)
        print(f"{path}: {counted(len(problems), 'problem')}", file=sys.stderr)
        return 2
    warnings = config_warnings(settings)
    for line in warnings:
        print(f"bastion: warning: {line}", file=sys.stderr)
    shape = (
        f"{counted(len(settings.model_list), 'deployment')} in "
        f"{counted(len(settings.model_groups), 'model group')}"
    )
    print(f"{path}: OK ({shape}{', ' + counted(len(warnings), 'warning') if warnings else ''})")
    return 0


def counted(count: int, noun: str) -> str:
    """``1 deployment``, ``3 deployments``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
