"""Charts as inline SVG, drawn on the server: bars over time and bars per name. No JavaScript.

A chart over time has both axes: the value axis with 0, the middle and the top value written
out and grid lines, and the time axis with the start of evenly spaced buckets written as dates
(UTC). Each bar carries ``data-label`` and ``data-value`` so a test (or a person with dev tools)
reads the numbers drawn.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from bastion.web._html import Markup, e

__all__ = ["bar_chart", "ranking_chart"]

_W, _H = 640, 190
#: Room for the value axis's labels (left), the time axis's labels (bottom) and the top value.
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 12, 12, 36
#: At most this many dates are written under the time axis.
_TICKS = 6


def _round_up(value: float) -> float:
    """The smallest of 1, 2 or 5 times a power of ten that is at least ``value`` (> 0)."""
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 2.0, 5.0, 10.0):
        if step * power >= value * (1 - 1e-12):
            return step * power
    return 10.0 * power


def _plain(value: float) -> str:
    """``1,234``, ``14.5``, ``0.00002``: no exponent down to a millionth."""
    if float(value).is_integer():
        return f"{value:,.0f}"
    if abs(value) < 1e-6:
        return f"{value:.3g}"
    return f"{value:,.6f}".rstrip("0").rstrip(".")


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    chart_id: str,
    fmt: Callable[[float], str] = _plain,
    axis: str = "UTC",
) -> Markup:
    """Vertical bars, one per time bucket, oldest left; ``labels`` name each bucket's start.

    ``axis`` is the time axis's caption (the time zone of the labels). The value axis reaches a
    round number at or above the largest value, and is marked at 0, half way and the top (not
    half way for counts when that is no whole number; only 0 when every value is 0)."""
    largest = max(values, default=0.0)
    top = _round_up(largest) if largest > 0 else 1.0
    n = max(len(values), 1)
    plot_w, plot_h = _W - _LEFT - _RIGHT, _H - _TOP - _BOTTOM
    base = _TOP + plot_h
    slot = plot_w / n
    counts = all(float(v).is_integer() for v in values)
    if largest <= 0:
        marks = [0.0]
    elif counts and not (top / 2).is_integer():
        marks = [0.0, 1.0]
    else:
        marks = [0.0, 0.5, 1.0]
    parts = []
    for fraction in marks:  # the value axis: grid lines and their values
        y = base - plot_h * fraction
        parts.append(
            f'<line class="grid" x1="{_LEFT}" y1="{y:.1f}" x2="{_W - _RIGHT}" y2="{y:.1f}"/>'
            f'<text class="y-tick" x="{_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{e(fmt(top * fraction))}</text>"
        )
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        height = plot_h * value / top
        x = _LEFT + i * slot
        parts.append(
            f'<rect class="bar" x="{x + 1:.1f}" y="{base - height:.1f}" width="{max(slot - 2, 1):.1f}" '
            f'height="{height:.1f}" data-label="{e(label)}" data-value="{value:g}">'
            f"<title>{e(label)}: {e(fmt(value))}</title></rect>"
        )
    step = max(1, -(-len(labels) // _TICKS))  # every step-th bucket is written out
    for i in range(0, len(labels), step):
        x = _LEFT + i * slot + slot / 2
        parts.append(
            f'<line class="axis" x1="{x:.1f}" y1="{base}" x2="{x:.1f}" y2="{base + 4}"/>'
            f'<text class="x-tick" x="{x:.1f}" y="{base + 16}" text-anchor="middle">{e(labels[i])}</text>'
        )
    parts.append(
        f'<line class="axis" x1="{_LEFT}" y1="{base}" x2="{_W - _RIGHT}" y2="{base}"/>'
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP}" x2="{_LEFT}" y2="{base}"/>'
        f'<text class="axis-title" x="{_W - _RIGHT}" y="{_H - 4}" text-anchor="end">{e(axis)}</text>'
    )
    return Markup(
        f'<figure class="chart"><figcaption>{e(title)} '
        f'<span class="max">max {e(fmt(max(values, default=0.0)))}'
        f'</span></figcaption><svg id="{e(chart_id)}" viewBox="0 0 {_W} {_H}" role="img" '
        f'aria-label="{e(title)}">' + "".join(parts) + "</svg></figure>"
    )


def ranking_chart(
    title: str,
    rows: Sequence[tuple[str, float]],
    *,
    chart_id: str,
    fmt: Callable[[float], str] = _plain,
) -> Markup:
    """Horizontal bars, one per name (team, key, model...), longest first as given."""
    row_h, label_w = 22, 200
    height = max(len(rows), 1) * row_h + 8
    top = max((v for _, v in rows), default=0.0) or 1.0
    parts = []
    for i, (name, value) in enumerate(rows):
        y = 4 + i * row_h
        width = (_W - label_w - 120) * value / top
        shown = name if len(name) <= 28 else name[:27] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{e(shown)}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{max(width, 1):.1f}" height="{row_h - 6}" '
            f'data-label="{e(name)}" data-value="{value:g}"><title>{e(name)}: {e(fmt(value))}</title></rect>'
            f'<text x="{label_w + width + 6:.1f}" y="{y + 15}">{e(fmt(value))}</text>'
        )
    if not rows:
        parts.append(f'<text x="{_LEFT}" y="18">No requests in this range.</text>')
    return Markup(
        f'<figure class="chart"><figcaption>{e(title)}</figcaption><svg id="{e(chart_id)}" '
        f'viewBox="0 0 {_W} {height}" role="img" aria-label="{e(title)}">'
        + "".join(parts)
        + "</svg></figure>"
    )
