"""The median of several benchmark runs, as one table: ``python -m bench.medians RUN.json ...``.

On a shared machine one run is noise; three or more, each a ``latest.json`` of ``python -m bench``
(``--out`` a directory per round), give a figure per target and scenario worth comparing: the
median requests (or streams) per second, p50 latency (time to first byte for streams) and
gateway CPU per request, and the median idle RSS and start-up time.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

__all__ = ["main", "median_table"]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _fmt(value: float | None, spec: str) -> str:
    return "n/a" if value is None else format(value, spec)


def median_table(runs: list[dict[str, Any]]) -> str:
    """Markdown: one row per target, one column group per scenario, medians over ``runs``."""
    scenarios = [s["name"] for s in runs[0]["scenarios"]]
    labels = {s["name"]: s["label"] for s in runs[0]["scenarios"]}
    targets = list(runs[0]["targets"])
    lines = [
        f"Medians of {len(runs)} runs ({', '.join(r['meta']['date'] for r in runs)}; "
        f"commit {runs[-1]['meta']['commit']}). Per scenario: requests or streams per second · "
        "p50 ms (time to first byte for streams) · gateway CPU ms per request or stream.",
        "",
        "| target | " + " | ".join(labels[name] for name in scenarios) + " | idle RSS | start-up |",
        "|---" * (len(scenarios) + 3) + "|",
    ]
    for target in targets:
        cells = []
        for name in scenarios:
            results = [
                next(s for s in run["scenarios"] if s["name"] == name)["results"].get(target) or {}
                for run in runs
            ]
            ok = [r for r in results if r.get("latency_ms")]
            key = "ttfb_ms" if ok and ok[0].get("ttfb_ms") else "latency_ms"
            rps = _median([r["rps"] for r in ok])
            p50 = _median([r[key]["p50"] for r in ok])
            cpu = _median([r["cpu_ms_per_request"] for r in ok if r.get("cpu_ms_per_request") is not None])
            errors = sum(int(r.get("errors") or 0) for r in results)
            cell = f"{_fmt(rps, ',.0f')} · {_fmt(p50, '.2f')} · {_fmt(cpu, '.3f')}"
            cells.append(cell + (f" · **{errors} errors**" if errors else ""))
        rss = _median(
            [
                r["targets"][target]["idle_rss_kib"] / 1024
                for r in runs
                if r["targets"][target].get("idle_rss_kib")
            ]
        )
        startup = _median(
            [
                r["targets"][target]["startup_seconds"]
                for r in runs
                if r["targets"][target].get("startup_seconds")
            ]
        )
        lines.append(
            f"| {target} | " + " | ".join(cells) + f" | {_fmt(rss, '.1f')} MiB | {_fmt(startup, '.2f')} s |"
        )
    notes = sorted({note for run in runs for note in run["meta"].get("notes", [])})
    if notes:
        lines += ["", *[f"- {note}" for note in notes]]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    paths = [Path(p) for p in (sys.argv[1:] if argv is None else argv)]
    if not paths:
        print("usage: python -m bench.medians RUN.json [RUN.json ...]", file=sys.stderr)
        return 2
    runs = [json.loads(p.read_text()) for p in paths]
    print(median_table(runs), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
