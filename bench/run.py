"""One benchmark run: start the mock, Bastion and (if installed) LiteLLM, load each in turn, report.

    python -m bench [--quick] [--scenario stream,nonstream-c16] [--token-delay 0.002] [--no-peers]

Writes bench/results/latest.md and latest.json and prints the markdown table. Each step's load comes
from a separate process (``python -m bench.load``) so the harness never competes with it for the
event loop; nothing else should run on the machine meanwhile.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as ``python bench/run.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.report import markdown
from bench.scenarios import Scenario, select
from bench.targets import LITELLM, ROOT, Target, start_gateway, start_mock, stop

__all__ = ["main"]

RESULTS = ROOT / "bench" / "results"


def _machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}"


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError):
        return "none"
    return out.stdout.strip() or "none"


def _step(scenario: Scenario, target: Target) -> dict[str, Any]:
    spec = {
        "url": target.chat_url,
        "headers": target.headers,
        "body": scenario.body(target.model),
        "stream": scenario.stream,
        "concurrency": scenario.concurrency,
        "requests": scenario.requests,
        "seconds": scenario.seconds,
        "warmup_requests": scenario.warmup_requests,
        "warmup_seconds": scenario.warmup_seconds,
        # The mock's own CPU is not the gateway's: only gateways are charged.
        "cpu_pids": target.pids() if target.name != "direct" else [],
    }
    limit = scenario.seconds + scenario.warmup_seconds + 120
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.load", json.dumps(spec)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=limit,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"skipped": f"load generator timed out after {limit:.0f} s"}
    if done.returncode != 0:
        return {"skipped": f"load generator failed: {done.stderr.strip()[-300:]}"}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _progress(scenario: Scenario, target: Target, result: dict[str, Any]) -> None:
    if result.get("skipped"):
        summary = result["skipped"]
    elif result.get("latency_ms") is None:
        summary = f"all failed: {result.get('first_error')}"
    else:
        summary = f"{result['ok']} ok, {result['errors']} errors, {result['rps']:.0f}/s, "
        summary += f"p50 {result['latency_ms']['p50']:.2f} ms"
    print(f"  {scenario.name:<14} {target.name:<8} {summary}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests: a smoke run")
    parser.add_argument("--scenario", help="comma-separated scenario names or prefixes (e.g. stream)")
    parser.add_argument("--token-delay", type=float, default=0.002, help="mock seconds between tokens")
    parser.add_argument("--no-peers", action="store_true", help="skip LiteLLM even when installed")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where latest.md/.json go")
    args = parser.parse_args(argv)
    scenarios = select(args.scenario, quick=args.quick)
    if not scenarios:
        parser.error(f"no scenario matches {args.scenario!r}")
    workdir = args.out / "logs"
    workdir.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    print("starting the mock upstream, bastion" + ("" if args.no_peers else " and peers"), file=sys.stderr)
    mock, mock_url = start_mock(workdir, args.token_delay)
    targets = [mock, start_gateway("bastion", mock_url, workdir)]
    if args.no_peers:
        notes.append("LiteLLM skipped (--no-peers).")
    elif LITELLM.exists():
        targets.append(start_gateway("litellm", mock_url, workdir))
    else:
        notes.append("LiteLLM not installed (make bench-peers installs it in bench/.peers/litellm).")
    for target in targets:
        if target.error:
            print(f"  {target.name}: {target.error}", file=sys.stderr)
    run: dict[str, Any] = {"scenarios": []}
    started = time.perf_counter()
    try:
        for scenario in scenarios:
            results: dict[str, Any] = {}
            for target in targets:
                if target.error:
                    results[target.name] = {"skipped": "did not start"}
                    continue
                results[target.name] = _step(scenario, target)
                _progress(scenario, target, results[target.name])
            run["scenarios"].append(
                {
                    "name": scenario.name,
                    "label": scenario.label,
                    "stream": scenario.stream,
                    "concurrency": scenario.concurrency,
                    "results": results,
                }
            )
        peaks = {target.name: target.memory()[1] for target in targets}
    finally:
        for target in reversed(targets):
            stop(target)
    run["targets"] = {
        t.name: {
            "startup_seconds": t.startup_seconds,
            "idle_rss_kib": t.idle_rss_kib,
            "peak_rss_kib": peaks.get(t.name) or None,
            "error": t.error,
        }
        for t in targets
    }
    run["meta"] = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": _machine(),
        "quick": args.quick,
        "token_delay": args.token_delay,
        "commit": _commit(),
        "measured_seconds": round(time.perf_counter() - started, 1),
        "notes": notes,
    }
    document = markdown(run)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.md").write_text(document)
    (args.out / "latest.json").write_text(json.dumps(run, indent=2) + "\n")
    print(document)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
