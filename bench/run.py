"""One benchmark run: start the mock, the gateways and the keyed gateways, load each in turn, report.

    python -m bench [--quick] [--scenario stream,nonstream-c16] [--targets bastion,litellm,portkey]
                    [--token-delay 0.002] [--no-peers]
    python -m bench --soak [--soak-requests 300000] [--targets sqlite]    (see bench/soak.py)

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
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as ``python bench/run.py``
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.keyed import (
    NO_JOURNAL,
    KeyedStore,
    discard,
    pg_redis_store,
    spend_rows,
    sqlite_store,
    start_keyed,
    stop_keyed,
)
from bench.peers import PEERS, missing, start_peer, versions
from bench.report import markdown
from bench.scenarios import RESPONSES, Scenario, select
from bench.targets import (
    BASTION,
    GRANIAN,
    ROOT,
    SERVER_TARGETS,
    Target,
    gateway_config,
    start_gateway,
    start_mock,
    stop,
)

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


def _stream_events(scenario: Scenario) -> dict[str, str]:
    """How the load generator reads this step's stream: a Responses stream's first token is its
    first ``response.output_text.delta`` event (``response.created`` comes before any token) and
    it ends with ``response.completed`` (no ``[DONE]``); a chat stream times its first byte."""
    if scenario.api == RESPONSES:
        return {"first_event": "response.output_text.delta", "end_event": "response.completed"}
    return {"end_event": "[DONE]"}


def _step(scenario: Scenario, target: Target) -> dict[str, Any]:
    spec = {
        "url": target.url(scenario.api),
        "headers": target.headers,
        "body": scenario.body(target.model),
        "stream": scenario.stream,
        **_stream_events(scenario),
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
    print(f"  {scenario.name:<14} {target.name:<24} {summary}", file=sys.stderr, flush=True)


def _wanted(patterns: str | None) -> Callable[[str], bool]:
    """Whether a target is chosen by ``--targets`` (names or parts of names, ``=name`` for exactly
    that name; all when None)."""
    wanted = [p.strip().lower() for p in patterns.split(",") if p.strip()] if patterns else []

    def chosen(name: str) -> bool:
        name = name.lower()
        return not wanted or any(name == p[1:] if p.startswith("=") else p in name for p in wanted)

    return chosen


def _start_targets(
    args: argparse.Namespace,
    workdir: Path,
    notes: list[str],
    targets: list[Target],
    stores: dict[str, KeyedStore],
) -> None:
    """Start the mock (always: it is the baseline) and the gateways chosen, adding each to
    ``targets`` (and a keyed one's store to ``stores``) as soon as it exists, so it is stopped."""
    chosen = _wanted(args.targets)
    print("starting the mock upstream and the gateways", file=sys.stderr)
    mock, mock_url = start_mock(workdir, args.token_delay)
    targets.append(mock)
    if args.servers:
        _start_servers(chosen, mock_url, workdir, notes, targets)
        return
    if chosen("bastion"):
        targets.append(start_gateway("bastion", mock_url, workdir))
    if chosen("bastion+cache"):
        # Every step sends one body again and again: after the first call, each is a cache hit.
        config = workdir / "bastion-cache.yaml"
        config.write_text(gateway_config(mock_url, settings="litellm_settings:\n  cache: true\n"))
        targets.append(start_gateway("bastion+cache", mock_url, workdir, config=config))
    _start_peers(args, chosen, mock_url, workdir, notes, targets)
    for journal in (True, False):  # each store with and without the spend journal (its cost)
        suffix = "" if journal else NO_JOURNAL
        if chosen(f"bastion+keys (sqlite{suffix})"):
            store = sqlite_store(journal=journal)
            stores[store.name] = store
            targets.append(start_keyed(store, mock_url, workdir))
        if journal and chosen("bastion+keys+plan (sqlite)"):  # next to the plain keyed SQLite target
            store = sqlite_store(plan=True)
            stores[store.name] = store
            targets.append(start_keyed(store, mock_url, workdir))
        if chosen(f"bastion+keys (pg+redis{suffix})"):
            found = pg_redis_store(journal=journal)
            if isinstance(found, str):
                notes.append(f"bastion+keys (pg+redis{suffix}) not run: {found}.")
                print(f"  bastion+keys (pg+redis{suffix}) not run: {found}", file=sys.stderr)
            else:
                stores[found.name] = found
                targets.append(start_keyed(found, mock_url, workdir))


def _start_peers(
    args: argparse.Namespace,
    chosen: Callable[[str], bool],
    mock_url: str,
    workdir: Path,
    notes: list[str],
    targets: list[Target],
) -> None:
    """LiteLLM and Portkey, each when chosen and installed; a line in the report (and on stderr)
    says why one did not run."""
    installed = versions()
    for name in PEERS:
        if not chosen(name):
            continue
        why = "skipped (--no-peers)" if args.no_peers else missing(name)
        if why is not None:
            notes.append(f"{name}: {why}.")
            print(f"  {name}: {why}", file=sys.stderr)
            continue
        notes.append(f"{name}: version {installed.get(name, 'unknown')}.")
        targets.append(start_peer(name, mock_url, workdir))


def _start_servers(
    chosen: Callable[[str], bool], mock_url: str, workdir: Path, notes: list[str], targets: list[Target]
) -> None:
    """The server comparison: Bastion's app with the master key under its own server, uvicorn and
    Granian (when ``make bench-peers`` installed it), with one worker and with two."""
    config = workdir / "bastion.yaml"
    config.write_text(gateway_config(mock_url))
    # The targets share the config's SQLite store: migrate it first, so no target's start-up
    # includes the migrations (the first one started would otherwise pay for them).
    subprocess.run([str(BASTION), "migrate", "--config", str(config)], capture_output=True, check=True)
    for name in ("bastion", *SERVER_TARGETS):
        if not chosen(name):
            continue
        if "@granian" in name and not GRANIAN.exists():
            notes.append(f"{name} not run: Granian not installed (make bench-peers).")
            continue
        target = start_gateway(name, mock_url, workdir, config=config)
        targets.append(target)
        if name.endswith(" x2") and target.process is not None and not target.error:
            supervisor = target.memory_of_root()
            notes.append(f"{name}: supervisor process RSS {supervisor / 1024:.1f} MiB at idle.")


def _spend_check(run: dict[str, Any], target: Target, store: KeyedStore) -> dict[str, Any]:
    """Rows in the stopped gateway's spend log against the requests sent with its key."""
    sent = target.setup_requests
    for scenario in run["scenarios"]:
        result = scenario["results"].get(target.name) or {}
        sent += int(result.get("sent") or 0)
    try:
        written: int | str = spend_rows(store)
    except Exception as exc:  # any store failure is reported in the table, not raised
        written = f"could not be read ({type(exc).__name__}: {exc})"
    print(f"  {target.name}: spend rows written: {written} of {sent}", file=sys.stderr)
    return {"written": written, "sent": sent}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests: a smoke run")
    parser.add_argument("--scenario", help="comma-separated scenario names or prefixes (e.g. stream)")
    parser.add_argument(
        "--targets",
        help="comma-separated target names or parts of names (e.g. bastion,sqlite; =bastion for that "
        "name only); direct always runs",
    )
    parser.add_argument("--token-delay", type=float, default=0.002, help="mock seconds between tokens")
    parser.add_argument("--no-peers", action="store_true", help="skip the peers (LiteLLM, Portkey)")
    parser.add_argument(
        "--servers",
        action="store_true",
        help="compare HTTP servers instead: Bastion's own, uvicorn and Granian, one worker and two",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where latest.md/.json go")
    parser.add_argument(
        "--soak", action="store_true", help="only the soak: memory over --soak-requests per keyed gateway"
    )
    parser.add_argument("--soak-requests", type=int, default=300_000, help="requests per gateway in the soak")
    args = parser.parse_args(argv)
    if args.soak:
        from bench.soak import soak

        soak(
            run_step=_step,
            out=args.out,
            requests=max(args.soak_requests // 10, 1000) if args.quick else args.soak_requests,
            wanted=_wanted(args.targets),
            token_delay=args.token_delay,
            machine=_machine(),
            commit=_commit(),
        )
        return 0
    scenarios = select(args.scenario, quick=args.quick)
    if not scenarios:
        parser.error(f"no scenario matches {args.scenario!r}")
    workdir = args.out / "logs"
    workdir.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    run: dict[str, Any] = {"scenarios": []}
    targets: list[Target] = []
    stores: dict[str, KeyedStore] = {}
    spend: dict[str, dict[str, Any]] = {}
    try:
        _start_targets(args, workdir, notes, targets, stores)
        for target in targets:
            if target.error:
                print(f"  {target.name}: {target.error}", file=sys.stderr)
        started = time.perf_counter()
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
                    "api": scenario.api,
                    "concurrency": scenario.concurrency,
                    "results": results,
                }
            )
        measured = time.perf_counter() - started
        peaks = {target.name: target.memory()[1] for target in targets}
        for target in reversed(targets):
            if target.name in stores:
                stop_keyed(target)
                if not target.error:
                    spend[target.name] = _spend_check(run, target, stores[target.name])
    finally:
        for target in reversed(targets):
            stop(target)
        for store in stores.values():
            try:
                discard(store)
            except Exception as exc:  # a leftover schema must not hide the run's own outcome
                print(f"  {store.name}: could not clean up ({type(exc).__name__}: {exc})", file=sys.stderr)
    run["targets"] = {
        t.name: {
            "startup_seconds": t.startup_seconds,
            "idle_rss_kib": t.idle_rss_kib,
            "peak_rss_kib": peaks.get(t.name) or None,
            "error": t.error,
            "keyed": t.name in stores,
            "spend_rows": spend.get(t.name),
        }
        for t in targets
    }
    run["meta"] = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "machine": _machine(),
        "quick": args.quick,
        "token_delay": args.token_delay,
        "commit": _commit(),
        "measured_seconds": round(measured, 1),
        "notes": notes,
        "peers": {name: version for name, version in versions().items() if name in run["targets"]},
    }
    document = markdown(run)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latest.md").write_text(document)
    (args.out / "latest.json").write_text(json.dumps(run, indent=2) + "\n")
    print(document)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
