"""HTML building blocks of the dashboard: escaping, the page frame, tables and forms.

Plain string building with :func:`html.escape` on every value: no template engine to pin or
load, and nothing reaches the page unescaped except markup built here (:class:`Markup`). One
test fills every field a page shows with markup and checks every page shows it as text
(``tests/e2e/test_dashboard.py``, ``test_every_page_escapes_what_operators_and_clients_wrote``).

:data:`NAV` is the menu: a new page group adds its entry there and its routes in
:func:`bastion.web.build_dashboard`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from html import escape

__all__ = ["Markup", "csrf_field", "e", "link", "money", "page", "table", "when"]

NAV = (
    ("/ui", "Overview"),
    ("/ui/keys", "Keys"),
    ("/ui/requests", "Requests"),
    ("/ui/spend", "Spend"),
    ("/ui/teams", "Teams"),
    ("/ui/users", "Users"),
    ("/ui/plans", "Plans"),
    ("/ui/models", "Models"),
    ("/ui/billing", "Billing"),
)


class Markup(str):
    """HTML built here: inserted as is (every other value is escaped)."""


def e(value: object) -> str:
    """``value`` as HTML text: escaped, or as is when it is :class:`Markup`; ``None`` as a dash."""
    if isinstance(value, Markup):
        return value
    if value is None:
        return "&ndash;"
    return escape(str(value), quote=True)


def money(value: float | None) -> str:
    if value is None:
        return "&ndash;"
    return f"${value:,.6f}" if 0 < abs(value) < 0.01 else f"${value:,.2f}"


def when(value: datetime | None) -> str:
    return "&ndash;" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def link(href: str, label: str, *, current: bool = False) -> str:
    """A link; the ``current`` one is marked for the stylesheet."""
    mark = ' class="current"' if current else ""
    return f'<a href="{e(href)}"{mark}>{e(label)}</a>'


def csrf_field(token: str) -> Markup:
    return Markup(f'<input type="hidden" name="csrf_token" value="{e(token)}">')


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], *, table_id: str, empty: str) -> Markup:
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{e(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        body = f'<tr class="empty"><td colspan="{len(headers)}">{e(empty)}</td></tr>'
    return Markup(f'<table id="{e(table_id)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>')


def page(
    title: str, body: str, *, current: str | None = None, csrf: str | None = None, who: str = ""
) -> bytes:
    """A whole page: ``current`` is the nav entry to highlight; without ``csrf`` no nav (login)."""
    nav = ""
    if csrf is not None:
        links = "".join(link(href, label, current=href == current) for href, label in NAV)
        nav = (
            f'<nav>{links}<span class="who">{e(who)}</span>'
            f'<form method="post" action="/ui/logout">{csrf_field(csrf)}'
            '<button type="submit" id="logout">Log out</button></form></nav>'
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)} · Bastion</title>"
        '<link rel="stylesheet" href="/ui/static/dashboard.css"></head>'
        f"<body><header><strong>Bastion</strong>{nav}</header><main><h1>{e(title)}</h1>{body}</main>"
        "</body></html>"
    ).encode()
