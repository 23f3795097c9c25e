"""Text from the dashboard's forms and the CLI's options, as the body the services read.

A form field and a command-line option are text; the management API's JSON has types. This is the
one place that turns text into the JSON shape, so the services then accept and refuse exactly what
they accept and refuse from the API: ``"10"`` becomes ``10``, ``"2.5"`` becomes ``2.5``,
``"a, b"`` in a list field becomes ``["a", "b"]``, and an empty field is left out (unchanged). Text
that is not a number stays text, so a number field refuses it with the same message the API gives
for a string.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from typing import Any

__all__ = ["LIST_FIELDS", "NUMBER_FIELDS", "body_from_text"]

#: Fields that hold a list, written comma-separated.
LIST_FIELDS = frozenset({"models", "teams"})
#: Fields that hold a number.
NUMBER_FIELDS = frozenset({"max_budget", "rpm_limit", "tpm_limit", "max_parallel_requests"})


def body_from_text(
    values: Mapping[str, str | None],
    *,
    fields: Collection[str],
) -> dict[str, Any]:
    """The body of ``fields`` found in ``values`` (form fields or options); others are ignored."""
    body: dict[str, Any] = {}
    for name in fields:
        raw = values.get(name)
        if raw is None or not raw.strip():
            continue
        text = raw.strip()
        if name in LIST_FIELDS:
            items = [item.strip() for item in text.split(",") if item.strip()]
            if items:
                body[name] = items
        elif name in NUMBER_FIELDS:
            body[name] = _number(text)
        else:
            body[name] = text
    return body


def _number(text: str) -> int | float | str:
    """``text`` as the JSON number it spells; the text itself when it spells none.

    Only what a JSON number could be: ASCII digits, a sign, a point and an exponent (Python's
    ``int`` would also read ``1_000`` and other scripts' digits).
    """
    if not text.isascii() or "_" in text:
        return text
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text
