"""The keys page: list, create and rotate (the new key shown once), block, unblock, edit, delete.

It calls the same service as ``/key/*`` and ``bastion keys`` (:class:`~bastion.administration.keys.
KeyService`), with the form's text read as the API's JSON would be
(:func:`~bastion.administration.text_input.body_from_text`), so validation, team checks and cache
announcements are the same everywhere. A key is named in forms by the first 16 hex characters of
its hash: the page never shows a stored hash whole.
"""

from __future__ import annotations

from typing import Any

from bastion.administration import KeyRecord, actor
from bastion.administration.key_fields import KEY_TEXT_FIELDS
from bastion.administration.keys import REF_LENGTH, KeyService
from bastion.administration.text_input import body_from_text
from bastion.domain.errors import BastionError
from bastion.web._html import Markup, csrf_field, e, money, table, when
from bastion.web.dashboard import PageContext, Reply

__all__ = ["KeyPages", "key_ref", "page_number"]

_PAGE = 50
_DONE = {
    "blocked": "Key blocked.",
    "unblocked": "Key unblocked.",
    "deleted": "Key deleted.",
    "saved": "Key saved.",
}


def key_ref(token: str) -> str:
    """How forms name a key: a prefix of its hash."""
    return token[:REF_LENGTH]


class KeyPages:
    def __init__(self, keys: KeyService) -> None:
        self._keys = keys

    def pages(self) -> dict[tuple[str, str], Any]:
        return {
            ("GET", "/ui/keys"): self.list_page,
            ("POST", "/ui/keys/create"): self.create,
            ("POST", "/ui/keys/block"): self.block,
            ("POST", "/ui/keys/unblock"): self.unblock,
            ("POST", "/ui/keys/delete"): self.delete,
            ("POST", "/ui/keys/rotate"): self.rotate,
            ("GET", "/ui/keys/edit"): self.edit_page,
            ("POST", "/ui/keys/edit"): self.edit,
        }

    async def list_page(
        self, ctx: PageContext, *, notice: str = "", error: str = "", status: int = 200
    ) -> Reply:
        page_no = page_number(ctx.query.get("page"))
        found = await self._keys.page(page=page_no, size=_PAGE)
        done = _DONE.get(ctx.query.get("done", ""), "")
        rows = [_row(key, ctx.csrf) for key in found.items]
        body = (
            (f'<div class="error" id="error">{e(error)}</div>' if error else "")
            + (
                Markup(notice)
                if notice
                else (f'<div class="notice" id="done">{e(done)}</div>' if done else "")
            )
            + "<h2>Create a key</h2>"
            + _create_form(ctx.csrf)
            + f'<h2>Keys <span class="muted">({found.total_count})</span></h2>'
            + table(
                [
                    "Key",
                    "Alias",
                    "Team",
                    "User",
                    "Models",
                    "Spend / budget",
                    "Limits",
                    "State",
                    "Created",
                    "",
                ],
                rows,
                table_id="keys",
                empty="No keys yet.",
            )
            + _pager(page_no, found.total_pages)
        )
        return ctx.render("Keys", body, current="/ui/keys", status=status)

    async def create(self, ctx: PageContext) -> Reply:
        try:
            material, record = await self._keys.create(_key_body(ctx.form), actor=actor(ctx.principal))
        except BastionError as err:
            return await self.list_page(ctx, error=err.message, status=err.status)
        notice = (
            '<div class="notice" id="new-key">New key <strong>'
            + e(record.key_alias or record.key_name)
            + '</strong>: <code class="newkey" id="new-key-value">'
            + e(material.key)
            + "</code><br>Copy it now: it is shown only this once (Bastion keeps only its hash).</div>"
        )
        return await self.list_page(ctx, notice=notice)

    async def rotate(self, ctx: PageContext) -> Reply:
        """A new value for the key, shown once; the old value stops working now or after the grace period."""
        try:
            record = await self._keys.find_by_ref(ctx.form.get("key", ""))
            grace = ctx.form.get("grace_period", "").strip()
            material, updated = await self._keys.regenerate(
                record, {"grace_period": grace} if grace else {}, actor=actor(ctx.principal)
            )
        except BastionError as err:
            return await self.list_page(ctx, error=err.message, status=err.status)
        notice = (
            '<div class="notice" id="new-key">Key <strong>'
            + e(updated.key_alias or record.key_name)
            + '</strong> rotated; its new value: <code class="newkey" id="new-key-value">'
            + e(material.key)
            + "</code><br>Copy it now: it is shown only this once. "
            + (
                "The old value works until the grace period ends."
                if grace
                else "The old value no longer works."
            )
            + "</div>"
        )
        return await self.list_page(ctx, notice=notice)

    async def block(self, ctx: PageContext) -> Reply:
        return await self._act(ctx, "blocked")

    async def unblock(self, ctx: PageContext) -> Reply:
        return await self._act(ctx, "unblocked")

    async def delete(self, ctx: PageContext) -> Reply:
        return await self._act(ctx, "deleted")

    async def edit_page(self, ctx: PageContext, *, error: str = "", status: int = 200) -> Reply:
        try:
            record = await self._keys.find_by_ref(ctx.query.get("key", "") or ctx.form.get("key", ""))
        except BastionError as err:
            return await self.list_page(ctx, error=err.message, status=err.status)
        fields = [
            ("key_alias", "Alias", record.key_alias, "text"),
            ("models", "Models (comma-separated; empty: all)", ",".join(record.models), "text"),
            ("max_budget", "Max budget (USD)", record.max_budget, "number"),
            ("budget_duration", "Budget period (30d, 1mo...)", record.budget_duration, "text"),
            ("rpm_limit", "Requests per minute", record.rpm_limit, "number"),
            ("tpm_limit", "Tokens per minute", record.tpm_limit, "number"),
            ("max_parallel_requests", "Parallel requests", record.max_parallel_requests, "number"),
        ]
        inputs = "".join(
            f'<label>{e(label)}<input type="{kind}" step="any" name="{name}" id="edit-{name}" '
            f'value="{e("" if value is None else value)}"></label>'
            for name, label, value, kind in fields
        )
        body = (
            (f'<div class="error" id="error">{e(error)}</div>' if error else "")
            + f"<p>Key <strong>{e(record.key_name)}</strong> (hash {e(key_ref(record.token)[:12])}&hellip;). "
            "Empty fields are left as they are.</p>"
            + '<form class="stack" method="post" action="/ui/keys/edit">'
            + csrf_field(ctx.csrf)
            + f'<input type="hidden" name="key" value="{e(key_ref(record.token))}">'
            + inputs
            + '<button type="submit" id="save">Save</button></form>'
        )
        return ctx.render("Edit key", body, current="/ui/keys", status=status)

    async def edit(self, ctx: PageContext) -> Reply:
        try:
            record = await self._keys.find_by_ref(ctx.form.get("key", ""))
            await self._keys.update(record, _key_body(ctx.form), actor=actor(ctx.principal))
        except BastionError as err:
            return await self.edit_page(ctx, error=err.message, status=err.status)
        return Reply(location="/ui/keys?done=saved")

    async def _act(self, ctx: PageContext, done: str) -> Reply:
        try:
            record = await self._keys.find_by_ref(ctx.form.get("key", ""))
            if done == "deleted":
                await self._keys.remove(record, actor=actor(ctx.principal))
            else:
                await self._keys.set_blocked(record, blocked=done == "blocked", actor=actor(ctx.principal))
        except BastionError as err:
            return await self.list_page(ctx, error=err.message, status=err.status)
        return Reply(location=f"/ui/keys?done={done}")


def _key_body(form: dict[str, str]) -> dict[str, Any]:
    """A key form as the body ``/key/generate`` and ``/key/update`` take (empty fields: unchanged)."""
    return body_from_text(form, fields=KEY_TEXT_FIELDS)


def page_number(value: str | None) -> int:
    """The ``?page=`` of a listing: a whole number from 1, else the first page."""
    if value and value.isascii() and value.isdigit() and 0 < int(value) < 1_000_000:
        return int(value)
    return 1


def _create_form(csrf: str) -> Markup:
    fields = [
        ("key_alias", "Alias", "text"),
        ("team_id", "Team id", "text"),
        ("user_id", "User id", "text"),
        ("duration", "Expires after (24h, 30d...; empty: never)", "text"),
        ("models", "Models (comma-separated; empty: all)", "text"),
        ("max_budget", "Max budget (USD)", "number"),
        ("budget_duration", "Budget period (30d, 1mo...)", "text"),
        ("rpm_limit", "Requests per minute", "number"),
        ("tpm_limit", "Tokens per minute", "number"),
        ("max_parallel_requests", "Parallel requests", "number"),
    ]
    inputs = "".join(
        f'<label>{e(label)}<input type="{kind}" step="any" name="{name}" id="create-{name}"></label>'
        for name, label, kind in fields
    )
    return Markup(
        '<form class="stack" method="post" action="/ui/keys/create" id="create-key">'
        + csrf_field(csrf)
        + inputs
        + '<button type="submit" id="create">Create key</button></form>'
    )


def _row(key: KeyRecord, csrf: str) -> list[object]:
    ref = key_ref(key.token)
    hidden = csrf_field(csrf) + f'<input type="hidden" name="key" value="{e(ref)}">'
    toggle = "unblock" if key.blocked else "block"
    actions = Markup(
        f'<form method="post" action="/ui/keys/{toggle}">{hidden}'
        f'<button type="submit" class="plain" data-action="{toggle}">{toggle.capitalize()}</button></form> '
        f'<a href="/ui/keys/edit?key={e(ref)}" data-action="edit">Edit</a> '
        f'<form method="post" action="/ui/keys/rotate">{hidden}'
        '<button type="submit" class="plain" data-action="rotate">Rotate</button></form> '
        f'<form method="post" action="/ui/keys/delete">{hidden}'
        '<button type="submit" class="danger" data-action="delete">Delete</button></form>'
    )
    limits = ", ".join(
        f"{label} {value}"
        for label, value in (
            ("rpm", key.rpm_limit),
            ("tpm", key.tpm_limit),
            ("parallel", key.max_parallel_requests),
        )
        if value is not None
    )
    budget = Markup(
        money(key.spend) + " / " + (money(key.max_budget) if key.max_budget is not None else "no budget")
    )
    if key.budget_duration:
        budget = Markup(budget + f" per {e(key.budget_duration)}")
    state = Markup(
        '<span class="state-bad">blocked</span>' if key.blocked else '<span class="state-ok">active</span>'
    )
    name = Markup(f'<span class="key-name" data-ref="{e(ref)}">{e(key.key_name)}</span>')
    return [
        name,
        key.key_alias,
        key.team_id,
        key.user_id,
        ", ".join(key.models) or "all",
        budget,
        limits or "none",
        state,
        Markup(when(key.created_at)),
        actions,
    ]


def _pager(page_no: int, pages: int) -> Markup:
    if pages <= 1:
        return Markup("")
    links = []
    if page_no > 1:
        links.append(f'<a href="/ui/keys?page={page_no - 1}">&larr; newer</a>')
    if page_no < pages:
        links.append(f'<a href="/ui/keys?page={page_no + 1}">older &rarr;</a>')
    return Markup(f'<p class="tabs">Page {page_no} of {pages} {" ".join(links)}</p>')
