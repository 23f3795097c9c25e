"""Open-loop load, run as its own process: ``python -m bench.openloop '<json spec>'`` prints a JSON result.

Unlike :mod:`bench.load` (a fixed number of clients, each waiting for its answer), requests here
are sent at a fixed rate whatever the gateway does, as independent clients arrive in production;
so a gateway over capacity sees its queue grow unless it refuses work. Each request is timed from
the moment it was due (not when the generator got round to it), and gives up after ``timeout``
seconds, as a client would. ``connections`` bounds the keep-alive pool (256 by default).
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from collections import Counter
from typing import Any

import aiohttp
import uvloop
from yarl import URL

from bench.load import percentiles

__all__ = ["main", "run"]


async def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Send ``rate`` requests a second for ``seconds``; count what came back and how fast."""
    url, rate, seconds = URL(spec["url"]), float(spec["rate"]), float(spec["seconds"])
    deadline, timeout = float(spec["deadline"]), float(spec["timeout"])
    body = json.dumps(spec["body"]).encode()
    statuses: Counter[str] = Counter()
    admitted: list[float] = []
    in_time = 0
    # Clients keep pools of keep-alive connections; a call waits for a free one (that wait counts:
    # it is timed from when it was due). Unbounded, a stall makes every late call open a new
    # connection, and the kernel's accept queue overflowing (SYN retries 1 s, 3 s later) would
    # dominate whatever the gateway does.
    connector = aiohttp.TCPConnector(limit=int(spec.get("connections", 256)), keepalive_timeout=60)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)
    ) as session:

        async def one(due: float) -> None:
            nonlocal in_time
            try:
                async with session.post(url, data=body, headers=spec["headers"]) as response:
                    await response.read()
                    status = str(response.status)
            except TimeoutError:
                status = "timeout"
            except aiohttp.ClientError:
                status = "error"
            took = time.perf_counter() - due
            statuses[status] += 1
            if status == "200":
                admitted.append(took)
                in_time += took <= deadline

        total = int(rate * seconds)
        started = time.perf_counter()
        pending = []
        for i in range(total):
            due = started + i / rate
            wait = due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            pending.append(asyncio.ensure_future(one(due)))
        sending = time.perf_counter() - started
        await asyncio.gather(*pending)
    return {
        "rate": rate,
        "sent": total,
        "send_seconds": sending,
        "statuses": dict(statuses),
        "ok": statuses["200"],
        "in_time": in_time,
        "in_time_share": in_time / total if total else 0.0,
        "shed": statuses["503"] + statuses["429"],
        "latency_ms": percentiles(admitted),
    }


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    spec = json.loads(args[0] if args else sys.stdin.read())
    gc.disable()  # the collector's pauses would show up as the target's tail latency
    print(json.dumps(uvloop.run(run(spec))), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
