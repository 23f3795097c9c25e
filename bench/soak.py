"""The soak: 300,000 requests through each keyed gateway, its memory read as they go.

    python -m bench --soak [--quick] [--soak-requests 300000] [--targets sqlite]

Starts the mock and the keyed gateways (virtual key with budget, limits, spend log and journal, on
SQLite and on PostgreSQL + Redis), sends non-streaming requests at concurrency 16 in chunks of
10,000 (one load process per chunk, as every step of the benchmark), and reads the gateway's RSS
after each chunk. Reported: RSS after the warm-up (the first tenth of the requests), at the end, the
growth between the two and the highest reading, and the spend rows written against the requests
sent. Issue 12's goal: growth within 10 MiB after warm-up. Writes ``results/soak.md`` and
``soak.json``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.keyed import KeyedStore, discard, pg_redis_store, spend_rows, sqlite_store, start_keyed, stop_keyed
from bench.scenarios import Scenario
from bench.targets import Target, start_mock, stop

__all__ = ["soak"]

CHUNK = 10_000
#: Issue 12: memory flat within this after warm-up.
GOAL_MIB = 10.0


def soak(
    *,
    run_step: Callable[[Scenario, Target], dict[str, Any]],
    out: Path,
    requests: int,
    wanted: Callable[[str], bool],
    token_delay: float,
    machine: str,
    commit: str,
) -> dict[str, Any]:
    """Run the soak against each keyed target ``wanted`` picks; write and return the results."""
    workdir = out / "logs"
    workdir.mkdir(parents=True, exist_ok=True)
    chunk = min(CHUNK, max(requests // 10, 1))
    scenario = Scenario("soak", "non-streaming, concurrency 16", False, 16, chunk, 600.0, 0, 0.0, 16)
    results: dict[str, Any] = {}
    notes: list[str] = []
    mock, mock_url = start_mock(workdir, token_delay)
    try:
        for make in (sqlite_store, pg_redis_store):
            store = make()
            if isinstance(store, str):
                notes.append(f"bastion+keys (pg+redis) not run: {store}.")
                continue
            if not wanted(store.name):
                discard(store)
                continue
            results[store.name] = _soak_one(store, mock_url, workdir, scenario, requests, run_step)
    finally:
        stop(mock)
    run = {
        "meta": {
            "date": time.strftime("%Y-%m-%d %H:%M"),
            "machine": machine,
            "commit": commit,
            "requests": requests,
            "chunk": chunk,
            "notes": notes,
        },
        "targets": results,
    }
    (out / "soak.json").write_text(json.dumps(run, indent=2) + "\n")
    document = markdown(run)
    (out / "soak.md").write_text(document)
    print(document)
    return run


def _soak_one(
    store: KeyedStore,
    mock_url: str,
    workdir: Path,
    scenario: Scenario,
    requests: int,
    run_step: Callable[[Scenario, Target], dict[str, Any]],
) -> dict[str, Any]:
    print(f"soak: {store.name}, {requests:,} requests", file=sys.stderr, flush=True)
    target = start_keyed(store, mock_url, workdir)
    samples: list[dict[str, Any]] = []
    sent = target.setup_requests
    errors = 0
    try:
        if target.error:
            return {"error": target.error}
        samples.append({"requests": 0, "rss_kib": target.memory()[0]})
        done = 0
        while done < requests:
            result = run_step(scenario, target)
            if result.get("skipped"):
                return {"error": result["skipped"], "samples": samples}
            done += int(result["ok"]) + int(result["errors"])
            sent += int(result["sent"])
            errors += int(result["errors"])
            rss = target.memory()[0]
            samples.append({"requests": done, "rss_kib": rss, "rps": result["rps"]})
            print(
                f"  {done:>8,} requests  RSS {rss / 1024:6.1f} MiB  {result['rps']:,.0f} req/s",
                file=sys.stderr,
                flush=True,
            )
        stop_keyed(target)
        written: int | str = spend_rows(store)
    except Exception as exc:  # a store or process failure is reported, not raised
        written = f"could not be read ({type(exc).__name__}: {exc})"
    finally:
        stop(target)
        discard(store)
    return _summary(samples, requests, sent, errors, written)


def _summary(
    samples: list[dict[str, Any]], requests: int, sent: int, errors: int, written: int | str
) -> dict[str, Any]:
    warm = next((s for s in samples if s["requests"] >= requests // 10), samples[-1])
    last = samples[-1]
    peak = max(s["rss_kib"] for s in samples)
    return {
        "samples": samples,
        "warm_rss_kib": warm["rss_kib"],
        "warm_requests": warm["requests"],
        "final_rss_kib": last["rss_kib"],
        "growth_kib": last["rss_kib"] - warm["rss_kib"],
        "peak_rss_kib": peak,
        "errors": errors,
        "spend_rows": {"written": written, "sent": sent},
    }


def markdown(run: dict[str, Any]) -> str:
    meta = run["meta"]
    lines = [
        "# Bastion soak",
        "",
        f"{meta['date']} · {meta['machine']} · {meta['requests']:,} non-streaming requests at"
        f" concurrency 16 per gateway, RSS read every {meta['chunk']:,} · commit {meta['commit']}",
        "",
        "| gateway | RSS at start | RSS after warm-up | RSS at the end | growth after warm-up"
        f" (goal within {GOAL_MIB:g} MiB) | peak | errors | spend rows written |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, result in run["targets"].items():
        if result.get("error"):
            lines.append(f"| {name} | not run: {result['error']} |||||||")
            continue
        growth = result["growth_kib"] / 1024
        verdict = "met" if growth <= GOAL_MIB else "**missed**"
        rows = result["spend_rows"]
        written = rows["written"]
        rows_text = f"{written:,} of {rows['sent']:,}" if isinstance(written, int) else str(written)
        lines.append(
            f"| {name} | {result['samples'][0]['rss_kib'] / 1024:.1f} MiB"
            f" | {result['warm_rss_kib'] / 1024:.1f} MiB (after {result['warm_requests']:,})"
            f" | {result['final_rss_kib'] / 1024:.1f} MiB | {growth:+.1f} MiB {verdict}"
            f" | {result['peak_rss_kib'] / 1024:.1f} MiB | {result['errors']} | {rows_text} |"
        )
    if meta["notes"]:
        lines += ["", *[f"- {note}" for note in meta["notes"]]]
    return "\n".join(lines) + "\n"
