"""Aligned text tables for the command line (``bastion keys list``, ``bastion spend``...)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

__all__ = ["cell", "money", "table", "when"]


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """The lines of a table: a header, a rule, then one line per row, columns padded to fit."""
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    out = ["  ".join(cell.ljust(width) for cell, width in zip(header, widths, strict=True)).rstrip()]
    out.append("  ".join("-" * width for width in widths))
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    return out


def money(value: float | None) -> str:
    """US dollars to six decimals (requests often cost fractions of a cent); ``-`` for none."""
    return "-" if value is None else f"{value:.6f}"


def when(value: datetime | None) -> str:
    """A timestamp to the minute, UTC; ``-`` for none."""
    return "-" if value is None else value.strftime("%Y-%m-%d %H:%M")


def cell(value: object) -> str:
    """Any value as a cell: ``-`` for none, lists joined with commas."""
    if value is None or value == "":
        return "-"
    if isinstance(value, tuple | list):
        return ",".join(str(v) for v in value) or "-"
    return str(value)
