"""The edit forms of keys and teams: a field left as shown is unchanged, a field emptied is cleared.

Each input is sent with the value the form showed (``was_<name>``, hidden), so emptying a field
(remove the limit, the budget, the expiry) is told apart from not touching it, and a change
someone else saved meanwhile to a field nobody touched here is kept. A form without the shown
values (an older page, a script) changes what it sends and leaves empty fields as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bastion.web._html import Markup, e

__all__ = ["Field", "edit_inputs", "edited", "shown_text"]

#: Number inputs take any number (a budget of 2.5, a limit of 7), not only whole steps.
_STEP = ' step="any"'
#: An input: its name, its label, its HTML type.
Field = tuple[str, str, str]


def shown_text(value: object) -> str:
    """How a form shows a stored value: empty for none; a number never with an exponent."""
    if value is None:
        return ""
    if isinstance(value, float):  # 2.5, 0.0000001, 1234567: never an exponent, never rounded away
        return f"{value:.10f}".rstrip("0").rstrip(".")
    return str(value)


def edit_inputs(fields: Sequence[Field], shown: Mapping[str, str]) -> Markup:
    """Each field's input, holding the shown value, and the hidden copy of that value."""
    return Markup(
        "".join(
            f'<label>{e(label)}<input type="{kind}"{_STEP if kind == "number" else ""} '
            f'name="{name}" id="edit-{name}" '
            f'value="{e(shown[name])}"></label>'
            f'<input type="hidden" name="was_{name}" value="{e(shown[name])}">'
            for name, label, kind in fields
        )
    )


def edited(form: Mapping[str, str], fields: Sequence[Field]) -> tuple[dict[str, str], list[str]]:
    """``(changed, emptied)``: the fields whose text differs from what was shown, and those of
    them now empty."""
    changed: dict[str, str] = {}
    emptied: list[str] = []
    for name, _, _ in fields:
        if name not in form:
            continue
        value = form[name].strip()
        was = form.get(f"was_{name}")
        if was is not None and value == was.strip():
            continue
        if value:
            changed[name] = value
        elif was:
            emptied.append(name)
    return changed, emptied
