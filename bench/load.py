"""The load generator, run as its own process: ``python -m bench.load '<json spec>'`` prints a JSON result.

A step is a warm-up (not measured) then a measured phase, each bounded by a number of requests and
a time limit, with ``concurrency`` workers sharing one keep-alive connection pool. Streams are read
chunk by chunk to time the first body byte (or, with ``first_event``, the first chunk holding that
event) and must end with ``end_event`` (``[DONE]`` by default). The CPU time of the processes named
in ``cpu_pids`` is read from /proc just before and after the measured phase.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import uvloop
from yarl import URL

from bench.procfs import cpu_seconds

__all__ = ["main", "percentiles"]


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    ttfbs: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None

    def fail(self, reason: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = reason


def percentiles(values: list[float]) -> dict[str, float] | None:
    """p50/p90/p99 (nearest rank) and mean, in milliseconds."""
    if not values:
        return None
    ordered = sorted(values)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000

    return {
        "p50": rank(0.50),
        "p90": rank(0.90),
        "p99": rank(0.99),
        "mean": sum(ordered) / len(ordered) * 1000,
    }


async def _one(session: aiohttp.ClientSession, spec: dict[str, Any], body: bytes, tally: _Tally) -> None:
    started = time.perf_counter()
    try:
        async with session.post(spec["_url"], data=body, headers=spec["headers"]) as response:
            if spec["stream"]:
                first_event, end_event = spec["_first_event"], spec["_end_event"]
                keep = max(len(first_event), len(end_event), 64)
                first: float | None = None
                ended = False
                last = b""
                async for chunk in response.content.iter_any():
                    # An event split across two chunks is found in the tail kept from the last one.
                    seen = last + chunk
                    if first is None and first_event in seen:
                        first = time.perf_counter()
                    ended = ended or end_event in seen
                    last = seen[-keep:]
                done = time.perf_counter()
                if response.status != 200 or first is None or not ended:
                    tally.fail(f"status {response.status}, stream end {last[-40:]!r}")
                    return
                tally.ttfbs.append(first - started)
            else:
                payload = await response.read()
                done = time.perf_counter()
                if response.status != 200:
                    tally.fail(f"status {response.status}: {payload[:200]!r}")
                    return
    except (TimeoutError, aiohttp.ClientError) as exc:
        tally.fail(f"{type(exc).__name__}: {exc}")
        return
    tally.latencies.append(done - started)


async def _phase(
    session: aiohttp.ClientSession, spec: dict[str, Any], body: bytes, requests: int, seconds: float
) -> tuple[_Tally, float]:
    tally = _Tally()
    left = [requests]
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while left[0] > 0 and time.perf_counter() < deadline:
            left[0] -= 1
            await _one(session, spec, body, tally)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(spec["concurrency"])))
    return tally, time.perf_counter() - started


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one step described by ``spec``; return its measurements."""
    body = json.dumps(spec["body"]).encode()
    spec["_url"] = URL(spec["url"])  # parsed once, not on every request
    # Where a stream's first token is (any byte when no event is named) and the event it ends with.
    spec["_first_event"] = spec.get("first_event", "").encode()
    spec["_end_event"] = spec.get("end_event", "[DONE]").encode()
    concurrency = spec["concurrency"]
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency, keepalive_timeout=60)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        warmup, _ = await _phase(session, spec, body, spec["warmup_requests"], spec["warmup_seconds"])
        pids = spec.get("cpu_pids") or []
        cpu_before = cpu_seconds(pids)
        tally, elapsed = await _phase(session, spec, body, spec["requests"], spec["seconds"])
        cpu_used = cpu_seconds(pids) - cpu_before
    done = len(tally.latencies)
    return {
        "ok": done,
        "errors": tally.errors,
        "first_error": tally.first_error,
        # Every request sent, warm-up included: what a gateway's spend log must hold.
        "sent": done + tally.errors + len(warmup.latencies) + warmup.errors,
        "seconds": elapsed,
        "rps": done / elapsed if elapsed > 0 else 0.0,
        "latency_ms": percentiles(tally.latencies),
        "ttfb_ms": percentiles(tally.ttfbs),
        "cpu_seconds": cpu_used if pids else None,
        "cpu_ms_per_request": cpu_used / done * 1000 if pids and done else None,
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    spec = json.loads(args[0] if args else sys.stdin.read())
    # The collector's pauses would show up as the target's tail latency.
    gc.disable()
    result = uvloop.run(run(spec))
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
