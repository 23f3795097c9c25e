"""The teams page: list, create, block, unblock, edit limits and budget, delete.

It calls the same service as ``/team/*`` and ``bastion teams`` (:class:`~bastion.administration.
teams.TeamService`), the form read as the API's JSON would be: blocking a team stops every key of
the team, deleting it deletes them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from bastion.administration import TeamRecord, actor
from bastion.administration.teams import TEAM_TEXT_FIELDS, TeamService
from bastion.administration.text_input import body_from_text
from bastion.domain.errors import BastionError, NotFoundError
from bastion.web._html import Markup, csrf_field, e, money, table
from bastion.web.dashboard import PageContext, Reply
from bastion.web.edit_forms import Field, edit_inputs, edited, shown_text

__all__ = ["TeamPages"]

_DONE = {
    "created": "Team created.",
    "blocked": "Team blocked: its keys are refused.",
    "unblocked": "Team unblocked.",
    "deleted": "Team and its keys deleted.",
    "saved": "Team saved.",
}
_EDITABLE: list[Field] = [
    ("team_alias", "Alias", "text"),
    ("models", "Models (comma-separated; empty: all)", "text"),
    ("max_budget", "Max budget (USD)", "number"),
    ("budget_duration", "Budget period (30d, 1mo...)", "text"),
    ("rpm_limit", "Requests per minute", "number"),
    ("tpm_limit", "Tokens per minute", "number"),
    ("max_parallel_requests", "Parallel requests", "number"),
]
#: The edit page says what emptying a field does.
_EMPTIED = {
    "team_alias": "Alias (empty: none)",
    "max_budget": "Max budget in USD (empty: no budget)",
    "budget_duration": "Budget period: 30d, 1mo... (empty: never resets)",
    "rpm_limit": "Requests per minute (empty: no limit)",
    "tpm_limit": "Tokens per minute (empty: no limit)",
    "max_parallel_requests": "Parallel requests (empty: no limit)",
}


class TeamPages:
    def __init__(self, teams: TeamService) -> None:
        self._teams = teams

    def pages(self) -> dict[tuple[str, str], Any]:
        return {
            ("GET", "/ui/teams"): self.list_page,
            ("POST", "/ui/teams/create"): self.create,
            ("POST", "/ui/teams/block"): self.block,
            ("POST", "/ui/teams/unblock"): self.unblock,
            ("POST", "/ui/teams/delete"): self.delete,
            ("GET", "/ui/teams/edit"): self.edit_page,
            ("POST", "/ui/teams/edit"): self.edit,
        }

    async def list_page(self, ctx: PageContext, *, error: str = "", status: int = 200) -> Reply:
        found = await self._teams.page(page=1, size=200)
        done = _DONE.get(ctx.query.get("done", ""), "")
        inputs = (
            '<label>Team id (empty: generated)<input type="text" name="team_id" id="team-team_id"></label>'
        )
        inputs += "".join(
            f'<label>{e(label)}<input type="{kind}" step="any" name="{name}" id="team-{name}"></label>'
            for name, label, kind in _EDITABLE
        )
        body = (
            (f'<div class="error" id="error">{e(error)}</div>' if error else "")
            + (f'<div class="notice" id="done">{e(done)}</div>' if done else "")
            + "<h2>Create a team</h2>"
            + f'<form class="stack" method="post" action="/ui/teams/create">{csrf_field(ctx.csrf)}{inputs}'
            + '<button type="submit" id="create-team">Create team</button></form>'
            + f'<h2>Teams <span class="muted">({found.total_count})</span></h2>'
            + table(
                [
                    "Team",
                    "Alias",
                    "Models",
                    "Spend / budget",
                    "Budget period",
                    "Limits",
                    "Members",
                    "State",
                    "",
                ],
                (_row(team, ctx.csrf) for team in found.items),
                table_id="teams",
                empty="No teams yet.",
            )
        )
        return ctx.render("Teams", body, current="/ui/teams", status=status)

    async def create(self, ctx: PageContext) -> Reply:
        try:
            await self._teams.create(body_from_text(ctx.form, fields=TEAM_TEXT_FIELDS))
        except BastionError as err:
            return await self.list_page(ctx, error=err.message, status=err.status)
        return Reply(location="/ui/teams?done=created")

    async def block(self, ctx: PageContext) -> Reply:
        return await self._act(ctx, "blocked")

    async def unblock(self, ctx: PageContext) -> Reply:
        return await self._act(ctx, "unblocked")

    async def delete(self, ctx: PageContext) -> Reply:
        return await self._act(ctx, "deleted")

    async def edit_page(self, ctx: PageContext, *, error: str = "", status: int = 200) -> Reply:
        team_id = ctx.query.get("team_id", "") or ctx.form.get("team_id", "")
        team = await self._teams.find(team_id)
        if team is None:
            return await self.list_page(ctx, error=f"Team '{team_id}' does not exist.", status=404)
        values = {
            "team_alias": team.team_alias,
            "models": ",".join(team.models),
            "max_budget": team.max_budget,
            "budget_duration": team.budget_duration,
            "rpm_limit": team.rpm_limit,
            "tpm_limit": team.tpm_limit,
            "max_parallel_requests": team.max_parallel_requests,
        }
        fields = [(name, _EMPTIED.get(name, label), kind) for name, label, kind in _EDITABLE]
        inputs = edit_inputs(fields, {name: shown_text(value) for name, value in values.items()})
        body = (
            (f'<div class="error" id="error">{e(error)}</div>' if error else "")
            + f"<p>Team <strong>{e(team.team_id)}</strong>. "
            "A field left as it is stays as it is; empty a field to remove the limit or budget.</p>"
            + f'<form class="stack" method="post" action="/ui/teams/edit">{csrf_field(ctx.csrf)}'
            + f'<input type="hidden" name="team_id" value="{e(team.team_id)}">{inputs}'
            + '<button type="submit" id="save">Save</button></form>'
        )
        return ctx.render("Edit team", body, current="/ui/teams", status=status)

    async def edit(self, ctx: PageContext) -> Reply:
        try:
            changed, emptied = edited(ctx.form, _EDITABLE)
            body = body_from_text(changed, fields=[f for f in TEAM_TEXT_FIELDS if f != "team_id"])
            await self._teams.update(ctx.form.get("team_id", ""), body, clear=emptied)
        except BastionError as err:
            return await self.edit_page(ctx, error=err.message, status=err.status)
        return Reply(location="/ui/teams?done=saved")

    async def _act(self, ctx: PageContext, done: str) -> Reply:
        team_id = ctx.form.get("team_id", "")
        try:
            if not team_id:
                raise NotFoundError("Name the team.", param="team_id")
            if done == "deleted":
                await self._teams.remove(team_id, actor=actor(ctx.principal))
            else:
                await self._teams.set_blocked(team_id, blocked=done == "blocked")
        except BastionError as err:
            return await self.list_page(ctx, error=err.message, status=err.status)
        return Reply(location=f"/ui/teams?done={done}")


def _row(team: TeamRecord, csrf: str) -> list[object]:
    hidden = csrf_field(csrf) + f'<input type="hidden" name="team_id" value="{e(team.team_id)}">'
    toggle = "unblock" if team.blocked else "block"
    actions = Markup(
        f'<form method="post" action="/ui/teams/{toggle}">{hidden}'
        f'<button type="submit" class="plain" data-action="{toggle}">{toggle.capitalize()}</button></form> '
        f'<a href="/ui/teams/edit?team_id={e(quote(team.team_id, safe=""))}" data-action="edit">Edit</a> '
        f'<form method="post" action="/ui/teams/delete">{hidden}'
        '<button type="submit" class="danger" data-action="delete">Delete</button></form>'
    )
    limits = ", ".join(
        f"{label} {value}"
        for label, value in (("rpm", team.rpm_limit), ("tpm", team.tpm_limit))
        if value is not None
    )
    budget = (
        money(team.spend) + " / " + (money(team.max_budget) if team.max_budget is not None else "no budget")
    )
    state = (
        '<span class="state-bad">blocked</span>' if team.blocked else '<span class="state-ok">active</span>'
    )
    return [
        team.team_id,
        team.team_alias,
        ", ".join(team.models) or "all",
        Markup(budget),
        team.budget_duration,
        limits or "none",
        len(team.members_with_roles),
        Markup(state),
        actions,
    ]
