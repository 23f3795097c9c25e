"""``python -m bench.startup [STARTS] [CASES] [--from-source]``: start-up to the first served
request, median of STARTS (default 5); CASES picks some of ``restart,first,x2`` (default all).
``--from-source`` skips compiling Bastion's bytecode first: with ``PYTHONDONTWRITEBYTECODE`` set
and no ``__pycache__`` in the tree, every start then compiles Bastion from source (what the bench
measured before it compiled first).

Each start is timed as ``python -m bench`` times it (spawn to the first chat completion served,
through ``/health/readiness``), with the gateway's own CPU time to that answer (its process, plus
the child processes it waited for) and its RSS then. Three cases, master key and one deployment at
the mock upstream:

- **restart**: the database is at head and the price table is fresh (what every restart does);
- **first start**: a new data directory (the migrations are due);
- **x2 supervisor**: ``--workers 2`` on a migrated store: the supervisor's RSS once both serve.

Prints one markdown table, and the load average before and after (the machine is shared).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
from pathlib import Path

from bench import targets
from bench.procfs import memory_kib
from bench.targets import gateway_config, start_gateway, start_mock, stop

__all__ = ["main"]

_TICKS = os.sysconf("SC_CLK_TCK")


def _own_cpu(pid: int) -> float:
    """utime + stime + cutime + cstime of ``pid``: its CPU and that of the children it waited for."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()
    return sum(int(f) for f in fields[11:15]) / _TICKS


def _start(name: str, mock_url: str, workdir: Path) -> tuple[float, float, float, float | None]:
    """One start in ``workdir``: (wall seconds, CPU seconds, RSS MiB, supervisor RSS MiB or None)."""
    config = workdir / "bastion.yaml"
    if not config.exists():
        config.write_text(gateway_config(mock_url))
    target = start_gateway(name, mock_url, workdir, config=config)
    try:
        if target.error or target.process is None or target.startup_seconds is None:
            raise RuntimeError(target.error or f"{name} did not start")
        cpu = _own_cpu(target.process.pid)
        supervisor = memory_kib([target.process.pid])[0] / 1024 if name.endswith(" x2") else None
        return target.startup_seconds, cpu, (target.idle_rss_kib or 0) / 1024, supervisor
    finally:
        stop(target)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if "--from-source" in args:
        args = [a for a in args if a != "--from-source"]
        targets.compiled = True  # as if compiled already: nothing is
    starts = int(args[0]) if args else 5
    wanted = set((args[1] if len(args) > 1 else "restart,first,x2").split(","))
    print(f"load average before: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    rows: list[str] = []
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as scratch:
        root = Path(scratch)
        mock, mock_url = start_mock(root, 0.0)
        try:
            cases: dict[str, list[tuple[float, float, float, float | None]]] = {}
            kept = root / "kept"
            kept.mkdir()
            _start("bastion", mock_url, kept)  # migrates and writes the price table once
            for i in range(starts):
                if "restart" in wanted:
                    cases.setdefault("restart", []).append(_start("bastion", mock_url, kept))
                if "first" in wanted:
                    fresh = root / f"fresh-{i}"
                    fresh.mkdir()
                    first = _start("bastion", mock_url, fresh)
                    cases.setdefault("first start (migrations due)", []).append(first)
                if "x2" in wanted:
                    cases.setdefault("x2 (restart)", []).append(_start("bastion x2", mock_url, kept))
        finally:
            stop(mock)
    rows.append("| start | wall (median) | CPU (median) | RSS | supervisor RSS |")
    rows.append("|---|---|---|---|---|")
    for case, runs in cases.items():
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        rss = statistics.median(r[2] for r in runs)
        sup = [r[3] for r in runs if r[3] is not None]
        shown = f"{statistics.median(sup):.1f} MiB" if sup else "-"
        walls = ", ".join(f"{r[0]:.2f}" for r in runs)
        rows.append(f"| {case} | {wall:.3f} s ({walls}) | {cpu:.2f} s | {rss:.1f} MiB | {shown} |")
    print("\n".join(rows))
    print(f"load average after: {os.getloadavg()[0]:.2f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
