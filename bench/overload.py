"""The overload scenario: find a gateway's capacity, then offer it 1x and 1.5x of it, open loop.

    python -m bench.overload [--seconds 20] [--deadline 1.0] [--timeout 10] [--quick]

Bastion runs twice against the mock, each time fresh: with overload control as configured by
default, and with it off (``bastion_settings.overload.max_event_loop_lag_ms: 0``, what every
gateway did before it existed). For each: capacity is the throughput of closed-loop
non-streaming calls at concurrency 64; then requests arrive at that rate for ``seconds / 2``, then
at 1.5 times it for ``seconds``. Reported per step: the share answered (200) within ``deadline``,
the 503/429 refusals, client time-outs, and the p50/p99 of the calls that were admitted (200).
The goal (issue 12): at 1.5x, the p99 of admitted calls within twice its value at 1x.

Writes bench/results/overload.md and overload.json and prints the table.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as ``python bench/overload.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.targets import ROOT, Target, gateway_config, start_gateway, start_mock, stop

__all__ = ["main"]

RESULTS = ROOT / "bench" / "results"
_BODY = {"model": "bench", "messages": [{"role": "user", "content": "Say something."}], "max_tokens": 16}
_MODES = {
    "shedding on (default)": "",
    "shedding off": "bastion_settings:\n  overload:\n    max_event_loop_lag_ms: 0\n",
}


def _run(module: str, spec: dict[str, Any], limit: float) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", module, json.dumps(spec)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=limit,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{module} failed: {done.stderr.strip()[-300:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _capacity(target: Target, seconds: float) -> float:
    spec = {
        "url": target.chat_url,
        "headers": target.headers,
        "body": _BODY,
        "stream": False,
        "concurrency": 64,
        "requests": 10**9,
        "seconds": seconds,
        "warmup_requests": 500,
        "warmup_seconds": 1.0,
        "cpu_pids": [],
    }
    return float(_run("bench.load", spec, seconds + 120)["rps"])


def _offer(target: Target, rate: float, seconds: float, args: argparse.Namespace) -> dict[str, Any]:
    spec = {
        "url": target.chat_url,
        "headers": target.headers,
        "body": _BODY,
        "rate": rate,
        "seconds": seconds,
        "deadline": args.deadline,
        "timeout": args.timeout,
        "connections": args.connections,
    }
    return _run("bench.openloop", spec, seconds + args.timeout + 120)


def _mode(name: str, settings: str, mock_url: str, workdir: Path, args: argparse.Namespace) -> dict[str, Any]:
    config = workdir / f"overload-{len(settings)}.yaml"
    config.write_text(gateway_config(mock_url, settings=settings))
    target = start_gateway("bastion", mock_url, workdir, config=config)
    try:
        if target.error:
            return {"error": target.error}
        capacity = _capacity(target, args.capacity_seconds)
        print(f"  {name}: capacity {capacity:.0f} req/s", file=sys.stderr, flush=True)
        steps = {}
        for factor, seconds in ((1.0, args.seconds / 2), (1.5, args.seconds)):
            steps[f"{factor:g}x"] = result = _offer(target, capacity * factor, seconds, args)
            p99 = (result["latency_ms"] or {}).get("p99")
            print(
                f"  {name} {factor:g}x: {result['in_time_share']:.0%} in time, {result['shed']} shed, "
                f"p99 {p99 if p99 is None else round(p99, 1)} ms, {result['statuses']}",
                file=sys.stderr,
                flush=True,
            )
        return {"capacity_rps": capacity, "steps": steps}
    finally:
        stop(target)


def _cell(step: dict[str, Any], deadline: float) -> str:
    latency = step["latency_ms"] or {}
    statuses = step["statuses"]
    others = sum(v for k, v in statuses.items() if k not in ("200", "503", "429", "timeout", "error"))
    return (
        f"{step['rate']:,.0f}/s · {step['in_time_share']:.1%} answered within {deadline:g} s · "
        f"503: {statuses.get('503', 0):,} · 429: {statuses.get('429', 0):,} · "
        f"time-outs: {statuses.get('timeout', 0):,} · errors: {statuses.get('error', 0) + others:,} · "
        f"admitted p50 {latency.get('p50', float('nan')):.1f} / p99 {latency.get('p99', float('nan')):.1f} ms"
    )


def markdown(run: dict[str, Any]) -> str:
    meta = run["meta"]
    lines = [
        "# Bastion overload benchmark",
        "",
        f"{meta['date']} · {meta['seconds']:g} s at 1.5x (half that at 1x) · deadline {meta['deadline']:g} s "
        f"· client time-out {meta['timeout']:g} s · {meta['connections']} client connections",
        "",
        "| mode | capacity (c=64) | 1x capacity | 1.5x capacity | p99 1.5x / 1x |",
        "|---|---|---|---|---|",
    ]
    for name, mode in run["modes"].items():
        if "error" in mode:
            lines.append(f"| {name} | did not start: {mode['error']} | | | |")
            continue
        one, more = mode["steps"]["1x"], mode["steps"]["1.5x"]
        ratio = "n/a"
        if one["latency_ms"] and more["latency_ms"]:
            ratio = f"{more['latency_ms']['p99'] / one['latency_ms']['p99']:.2f} (goal ≤ 2)"
        lines.append(
            f"| {name} | {mode['capacity_rps']:,.0f} req/s | {_cell(one, meta['deadline'])} | "
            f"{_cell(more, meta['deadline'])} | {ratio} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.overload", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="how long 1.5x is offered")
    parser.add_argument("--capacity-seconds", type=float, default=5.0)
    parser.add_argument("--deadline", type=float, default=1.0, help="later answers are not in time")
    parser.add_argument("--timeout", type=float, default=10.0, help="when a client gives up")
    parser.add_argument("--connections", type=int, default=256, help="the clients' keep-alive pool")
    parser.add_argument("--lag-ms", type=float, help="max_event_loop_lag_ms of the shedding run")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 4 s at 1.5x")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.seconds, args.capacity_seconds = 4.0, 2.0
    workdir = args.out / "logs"
    workdir.mkdir(parents=True, exist_ok=True)
    mock, mock_url = start_mock(workdir, 0.0)
    modes = dict(_MODES)
    if args.lag_ms is not None:
        modes = {
            f"shedding at {args.lag_ms:g} ms": (
                f"bastion_settings:\n  overload:\n    max_event_loop_lag_ms: {args.lag_ms}\n"
            ),
            "shedding off": _MODES["shedding off"],
        }
    run: dict[str, Any] = {"modes": {}}
    try:
        for name, settings in modes.items():
            run["modes"][name] = _mode(name, settings, mock_url, workdir, args)
    finally:
        stop(mock)
    run["meta"] = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "seconds": args.seconds,
        "deadline": args.deadline,
        "timeout": args.timeout,
        "connections": args.connections,
    }
    document = markdown(run)
    (args.out / "overload.md").write_text(document)
    (args.out / "overload.json").write_text(json.dumps(run, indent=2) + "\n")
    print(document)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
