"""``bastion keys list``, ``bastion teams list``, ``bastion users list``: what the store holds, as tables.

Keys are shown by their masked name (``sk-...abcd``) and alias, never by their hash or value.
"""

from __future__ import annotations

from typing import Any

from bastion.administration import KeyRecord, Page, TeamRecord, UserRecord
from bastion.administration.offline import Offline, offline
from bastion.commands.tables import cell, money, table, when
from bastion.settings import Settings

__all__ = ["list_keys", "list_teams", "list_users"]


def list_keys(settings: Settings, options: dict[str, Any]) -> int:
    async def fetch(services: Offline) -> Page[KeyRecord]:
        return await services.admin.keys.page(
            team_id=options.get("team_id"), user_id=options.get("user_id"), size=options["limit"]
        )

    page = offline(settings, fetch)
    header = ["key", "alias", "team", "user", "spend USD", "budget USD", "rpm", "tpm", "expires", "state"]
    rows = [
        [
            k.key_name,
            cell(k.key_alias),
            cell(k.team_id),
            cell(k.user_id),
            money(k.spend),
            money(k.max_budget),
            cell(k.rpm_limit),
            cell(k.tpm_limit),
            when(k.expires),
            "blocked" if k.blocked else "active",
        ]
        for k in page.items
    ]
    _print(rows, header, page, "keys")
    return 0


def list_teams(settings: Settings, options: dict[str, Any]) -> int:
    async def fetch(services: Offline) -> Page[TeamRecord]:
        return await services.admin.teams.page(size=options["limit"])

    page = offline(settings, fetch)
    header = ["team", "alias", "spend USD", "budget USD", "period", "rpm", "tpm", "models", "state"]
    rows = [
        [
            t.team_id,
            cell(t.team_alias),
            money(t.spend),
            money(t.max_budget),
            cell(t.budget_duration),
            cell(t.rpm_limit),
            cell(t.tpm_limit),
            cell(t.models) if t.models else "all",
            "blocked" if t.blocked else "active",
        ]
        for t in page.items
    ]
    _print(rows, header, page, "teams")
    return 0


def list_users(settings: Settings, options: dict[str, Any]) -> int:
    async def fetch(services: Offline) -> Page[UserRecord]:
        return await services.admin.users.page(size=options["limit"])

    page = offline(settings, fetch)
    header = ["user", "email", "role", "teams", "spend USD", "budget USD", "login"]
    rows = [
        [
            u.user_id,
            cell(u.user_email),
            cell(u.user_role),
            cell(u.teams),
            money(u.spend),
            money(u.max_budget),
            ("superuser" if u.is_superuser else "yes") if u.password_hash else "-",
        ]
        for u in page.items
    ]
    _print(rows, header, page, "users")
    return 0


def _print(rows: list[list[str]], header: list[str], page: Page[Any], what: str) -> None:
    if not rows:
        print(f"no {what}")
        return
    print("\n".join(table(header, rows)))
    if page.total_count > len(rows):
        print(f"({len(rows)} of {page.total_count} {what}; --limit shows more)")
