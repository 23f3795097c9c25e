"""Charts as inline SVG, drawn on the server: bars over time and bars per name. No JavaScript.

Each bar carries ``data-label`` and ``data-value`` so a test (or a person with dev tools) reads the
numbers drawn.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bastion.web._html import Markup, e

__all__ = ["bar_chart", "ranking_chart"]

_W, _H, _PAD = 640, 160, 24


def bar_chart(
    title: str,
    labels: Sequence[str],
    values: Sequence[float],
    *,
    chart_id: str,
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
) -> Markup:
    """Vertical bars, one per time bucket (oldest left, labelled by its start; the right edge is now)."""
    top = max(values, default=0.0) or 1.0
    n = max(len(values), 1)
    slot = (_W - 2 * _PAD) / n
    bars = []
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        height = (_H - 2 * _PAD) * value / top
        x = _PAD + i * slot
        y = _H - _PAD - height
        bars.append(
            f'<rect class="bar" x="{x + 1:.1f}" y="{y:.1f}" width="{max(slot - 2, 1):.1f}" '
            f'height="{height:.1f}" data-label="{e(label)}" data-value="{value:g}">'
            f"<title>{e(label)}: {e(fmt(value))}</title></rect>"
        )
    first = e(labels[0]) if labels else ""
    last = "now" if labels else ""
    return Markup(
        f'<figure class="chart"><figcaption>{e(title)} '
        f'<span class="max">max {e(fmt(max(values, default=0.0)))}'
        f'</span></figcaption><svg id="{e(chart_id)}" viewBox="0 0 {_W} {_H}" role="img" '
        f'aria-label="{e(title)}">'
        f'<line class="axis" x1="{_PAD}" y1="{_H - _PAD}" x2="{_W - _PAD}" y2="{_H - _PAD}"/>'
        + "".join(bars)
        + f'<text x="{_PAD}" y="{_H - 6}">{first}</text>'
        f'<text x="{_W - _PAD}" y="{_H - 6}" text-anchor="end">{last}</text></svg></figure>'
    )


def ranking_chart(
    title: str,
    rows: Sequence[tuple[str, float]],
    *,
    chart_id: str,
    fmt: Callable[[float], str] = lambda v: f"{v:g}",
) -> Markup:
    """Horizontal bars, one per name (team, key, model...), longest first as given."""
    row_h, label_w = 22, 200
    height = max(len(rows), 1) * row_h + 8
    top = max((v for _, v in rows), default=0.0) or 1.0
    parts = []
    for i, (name, value) in enumerate(rows):
        y = 4 + i * row_h
        width = (_W - label_w - 120) * value / top
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{e(name[:28])}</text>'
            f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{max(width, 1):.1f}" height="{row_h - 6}" '
            f'data-label="{e(name)}" data-value="{value:g}"><title>{e(name)}: {e(fmt(value))}</title></rect>'
            f'<text x="{label_w + width + 6:.1f}" y="{y + 15}">{e(fmt(value))}</text>'
        )
    if not rows:
        parts.append(f'<text x="{_PAD}" y="18">No requests in this range.</text>')
    return Markup(
        f'<figure class="chart"><figcaption>{e(title)}</figcaption><svg id="{e(chart_id)}" '
        f'viewBox="0 0 {_W} {height}" role="img" aria-label="{e(title)}">'
        + "".join(parts)
        + "</svg></figure>"
    )
