"""The keys page: list and search, create and rotate (the new key shown once), block, unblock,
edit (clearing a limit, setting or removing the expiry), delete after a confirmation; the static
keys of the config file, by their labels.

It calls the same service as ``/key/*`` and ``bastion keys`` (:class:`~bastion.administration.keys.
KeyService`), with the form's text read as the API's JSON would be
(:func:`~bastion.administration.text_input.body_from_text`), so validation, team checks and cache
announcements are the same everywhere. A key is named in forms by the first 16 hex characters of
its hash: the page never shows a stored hash whole.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from bastion.administration import KeyRecord, SpendService, actor
from bastion.administration.key_fields import KEY_TEXT_FIELDS
from bastion.administration.keys import REF_LENGTH, KeyService
from bastion.administration.text_input import body_from_text
from bastion.domain.errors import BastionError, InvalidRequestError
from bastion.web._html import Markup, csrf_field, e, money, table, when
from bastion.web.dashboard import PageContext, Reply
from bastion.web.edit_forms import Field, edit_inputs, edited, shown_text

__all__ = ["KeyPages", "StaticKeyView", "key_ref", "page_number"]

#: The edit form's fields (see :mod:`bastion.web.edit_forms`: left as shown is unchanged, emptied
#: is cleared).
_EDITABLE: tuple[Field, ...] = (
    ("key_alias", "Alias (empty: none)", "text"),
    ("models", "Models (comma-separated; empty: all)", "text"),
    ("max_budget", "Max budget in USD (empty: no budget)", "number"),
    ("budget_duration", "Budget period: 30d, 1mo... (empty: never resets)", "text"),
    ("rpm_limit", "Requests per minute (empty: no limit)", "number"),
    ("tpm_limit", "Tokens per minute (empty: no limit)", "number"),
    ("max_parallel_requests", "Parallel requests (empty: no limit)", "number"),
    ("expires", "Expires at, UTC (empty: never)", "datetime-local"),
)
_LOCAL = "%Y-%m-%dT%H:%M"


@dataclass(frozen=True, slots=True)
class StaticKeyView:
    """A static key of the config file as the keys page lists it (its label, never its value)."""

    label: str
    #: What its spend logs hold as ``api_key`` (the label, cut to the column).
    api_key: str
    models: tuple[str, ...]


_PAGE = 50
_DONE = {
    "blocked": "Key blocked.",
    "unblocked": "Key unblocked.",
    "deleted": "Key deleted: it no longer works anywhere.",
    "saved": "Key saved.",
}


def key_ref(token: str) -> str:
    """How forms name a key: a prefix of its hash."""
    return token[:REF_LENGTH]


class KeyPages:
    def __init__(
        self,
        keys: KeyService,
        spend: SpendService,
        *,
        static_keys: Sequence[StaticKeyView] = (),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._keys = keys
        self._spend = spend
        self._static = tuple(static_keys)
        self._clock = clock

    def pages(self) -> dict[tuple[str, str], Any]:
        return {
            ("GET", "/ui/keys"): self.list_page,
            ("POST", "/ui/keys/create"): self.create,
            ("POST", "/ui/keys/block"): self.block,
            ("POST", "/ui/keys/unblock"): self.unblock,
            ("GET", "/ui/keys/delete"): self.delete_page,
            ("POST", "/ui/keys/delete"): self.delete,
            ("POST", "/ui/keys/rotate"): self.rotate,
            ("GET", "/ui/keys/edit"): self.edit_page,
            ("POST", "/ui/keys/edit"): self.edit,
        }

    async def list_page(
        self, ctx: PageContext, *, notice: str = "", error: str = "", status: int = 200
    ) -> Reply:
        page_no = page_number(ctx.query.get("page"))
        search = str(ctx.query.get("q", "") or "").strip()[:256]
        found = await self._keys.page(search=search or None, page=page_no, size=_PAGE)
        used = await self._spend.last_used(
            [key.token for key in found.items] + [s.api_key for s in self._static]
        )
        now = self._clock()
        done = _DONE.get(ctx.query.get("done", ""), "")
        rows = [_row(key, ctx.csrf, used.get(key.token), now) for key in found.items]
        search_form = (
            '<form method="get" action="/ui/keys" class="filters" id="search-keys">'
            '<label>Search<input type="search" name="q" id="search" '
            f'value="{e(search)}" placeholder="alias, sk-...abcd, team or user"></label>'
            '<button type="submit" class="plain" id="search-button">Search</button>'
            + ('<a href="/ui/keys" id="clear-search">Clear</a>' if search else "")
            + "</form>"
        )
        heading = f"Keys matching &ldquo;{e(search)}&rdquo;" if search else "Keys"
        body = (
            (f'<div class="error" id="error">{e(error)}</div>' if error else "")
            + (
                Markup(notice)
                if notice
                else (f'<div class="notice" id="done">{e(done)}</div>' if done else "")
            )
            + "<h2>Create a key</h2>"
            + _create_form(ctx.csrf)
            + f'<h2>{heading} <span class="muted">({found.total_count})</span></h2>'
            + search_form
            + table(
                [
                    "Key",
                    "Team",
                    "User",
                    "Models",
                    "Spend / budget",
                    "Limits",
                    "Expires (UTC)",
                    "Last used (UTC)",
                    "State",
                    "Created (UTC)",
                    "",
                ],
                rows,
                table_id="keys",
                empty="No key matches." if search else "No keys yet.",
            )
            + _pager(page_no, found.total_pages, search)
            + self._static_table(used)
        )
        return ctx.render("Keys", body, current="/ui/keys", status=status)

    def _static_table(self, used: dict[str, datetime]) -> str:
        if not self._static:
            return ""
        return (
            '<h2>Static keys <span class="muted">(bastion_settings.static_keys in the config file: '
            "change them there)</span></h2>"
            + table(
                ["Label", "Models", "Last used (UTC)"],
                (
                    [
                        Markup(f'<span class="key-label">{e(key.label)}</span>'),
                        ", ".join(key.models) or "all",
                        Markup(when(used.get(key.api_key))) if key.api_key in used else "never",
                    ]
                    for key in self._static
                ),
                table_id="static-keys",
                empty="",
            )
        )

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

    async def delete_page(self, ctx: PageContext) -> Reply:
        """Are you sure? The key, what deleting it does, and the button that does it."""
        try:
            record = await self._keys.find_by_ref(ctx.query.get("key", "") or ctx.form.get("key", ""))
        except BastionError as err:
            return await self.list_page(ctx, error=err.message, status=err.status)
        ref = key_ref(record.token)
        body = (
            f'<div class="error" id="confirm-delete">Delete the key <strong>{e(_label(record))}</strong>'
            + (f" of team <strong>{e(record.team_id)}</strong>" if record.team_id else "")
            + f" (spent {money(record.spend)})? It stops working at once, on every gateway process, and "
            "cannot be brought back. Its spend logs are kept.</div>"
            + '<form method="post" action="/ui/keys/delete">'
            + csrf_field(ctx.csrf)
            + f'<input type="hidden" name="key" value="{e(ref)}">'
            + '<input type="hidden" name="confirm" value="yes">'
            + '<button type="submit" class="danger" id="confirm">Delete the key</button> '
            + '<a href="/ui/keys" id="cancel">Cancel</a></form>'
        )
        return ctx.render("Delete a key?", body, current="/ui/keys")

    async def delete(self, ctx: PageContext) -> Reply:
        """Delete, once confirmed; a form without the confirmation shows the question instead."""
        if ctx.form.get("confirm") != "yes":
            return await self.delete_page(ctx)
        return await self._act(ctx, "deleted")

    async def edit_page(self, ctx: PageContext, *, error: str = "", status: int = 200) -> Reply:
        try:
            record = await self._keys.find_by_ref(ctx.query.get("key", "") or ctx.form.get("key", ""))
        except BastionError as err:
            return await self.list_page(ctx, error=err.message, status=err.status)
        shown = _shown(record)
        inputs = edit_inputs(_EDITABLE, shown)
        body = (
            (f'<div class="error" id="error">{e(error)}</div>' if error else "")
            + f"<p>Key <strong>{e(_label(record))}</strong> (hash {e(key_ref(record.token)[:12])}&hellip;). "
            "A field left as it is stays as it is; empty a field to remove the limit, budget or expiry.</p>"
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
            body, clear = _edits(ctx.form, self._clock())
            await self._keys.update(record, body, actor=actor(ctx.principal), clear=clear)
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


def _label(key: KeyRecord) -> str:
    """A key as people name it: ``alias (sk-...abcd)``, or its masked name alone."""
    return f"{key.key_alias} ({key.key_name})" if key.key_alias else key.key_name


def _shown(key: KeyRecord) -> dict[str, str]:
    """What the edit form shows in each field."""
    values: dict[str, object] = {
        "key_alias": key.key_alias,
        "models": ",".join(key.models),
        "max_budget": key.max_budget,
        "budget_duration": key.budget_duration,
        "rpm_limit": key.rpm_limit,
        "tpm_limit": key.tpm_limit,
        "max_parallel_requests": key.max_parallel_requests,
        "expires": None if key.expires is None else key.expires.astimezone(UTC).strftime(_LOCAL),
    }
    return {name: shown_text(value) for name, value in values.items()}


def _edits(form: dict[str, str], now: datetime) -> tuple[dict[str, Any], list[str]]:
    """The edit form as ``(body, cleared)`` for :meth:`KeyService.update` (see
    :mod:`bastion.web.edit_forms`); ``Expires at`` becomes the ``duration`` from now."""
    changed, emptied = edited(form, _EDITABLE)
    body = body_from_text(changed, fields=[name for name in KEY_TEXT_FIELDS if name != "duration"])
    if "expires" in changed:
        body["duration"] = _until(changed["expires"], now)
    return body, ["duration" if name == "expires" else name for name in emptied]


def _until(text: str, now: datetime) -> str:
    """An ``Expires at`` (``YYYY-MM-DDTHH:MM``, UTC) as the duration from now the services take."""
    for pattern in (_LOCAL, _LOCAL + ":%S"):  # a browser may send the seconds too
        try:
            at = datetime.strptime(text, pattern).replace(tzinfo=UTC)
            break
        except ValueError:
            continue
    else:
        raise InvalidRequestError(
            "Expires at must be a date and time such as 2026-12-31T23:59 (UTC).", param="expires"
        ) from None
    seconds = math.ceil((at - now).total_seconds())
    if seconds <= 0:
        raise InvalidRequestError(
            "Expires at must be in the future; empty the field for never.", param="expires"
        )
    return f"{seconds}s"


def _row(key: KeyRecord, csrf: str, last_used: datetime | None, now: datetime) -> list[object]:
    ref = key_ref(key.token)
    hidden = csrf_field(csrf) + f'<input type="hidden" name="key" value="{e(ref)}">'
    toggle = "unblock" if key.blocked else "block"
    actions = Markup(
        f'<form method="post" action="/ui/keys/{toggle}">{hidden}'
        f'<button type="submit" class="plain" data-action="{toggle}">{toggle.capitalize()}</button></form> '
        f'<a href="/ui/keys/edit?key={e(ref)}" data-action="edit">Edit</a> '
        f'<form method="post" action="/ui/keys/rotate">{hidden}'
        '<button type="submit" class="plain" data-action="rotate">Rotate</button></form> '
        f'<a href="/ui/keys/delete?key={e(ref)}" class="danger" data-action="delete">Delete</a>'
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
    expired = key.expires is not None and key.expires <= now
    if key.blocked:
        state = Markup('<span class="state-bad">blocked</span>')
    elif expired:
        state = Markup('<span class="state-bad">expired</span>')
    else:
        state = Markup('<span class="state-ok">active</span>')
    name = Markup(
        f'<span class="key-name" data-ref="{e(ref)}">'
        + (f'<strong class="key-label">{e(key.key_alias)}</strong> ' if key.key_alias else "")
        + f"<code>{e(key.key_name)}</code></span>"
    )
    return [
        name,
        key.team_id,
        key.user_id,
        ", ".join(key.models) or "all",
        budget,
        limits or "none",
        Markup(f'<span class="expires">{when(key.expires)}</span>') if key.expires else "never",
        Markup(f'<span class="last-used">{when(last_used)}</span>') if last_used else "never",
        state,
        Markup(when(key.created_at)),
        actions,
    ]


def _pager(page_no: int, pages: int, search: str) -> Markup:
    if pages <= 1:
        return Markup("")

    def href(number: int) -> str:
        return "/ui/keys?" + urlencode({"q": search, "page": number} if search else {"page": number})

    links = []
    if page_no > 1:
        links.append(f'<a href="{e(href(page_no - 1))}">&larr; newer</a>')
    if page_no < pages:
        links.append(f'<a href="{e(href(page_no + 1))}">older &rarr;</a>')
    return Markup(f'<p class="tabs">Page {page_no} of {pages} {" ".join(links)}</p>')
