"""The HTTP servers alone: a trivial ASGI app (a fixed JSON answer; a 100-frame SSE stream with 2 ms
between frames) under Bastion's server, uvicorn and Granian, so the server's own CPU shows without
the gateway's. ``python -m bench.server_only [ROUNDS]`` prints one line per server and round.

    python -m bench.server_only serve bastion|uvicorn PORT     # what each round starts
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from bench.procfs import process_tree
from bench.targets import GRANIAN, ROOT, free_port

__all__ = ["app", "main"]

_ANSWER = b'{"id":"x","object":"chat.completion","choices":[{"message":{"content":"hello there"}}]}'
_FRAME = b'data: {"choices":[{"delta":{"content":"tok"}}]}\n\n'
_PYTHON = str(ROOT / ".venv" / "bin" / "python")


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A fixed answer at ``/``, a 100-frame stream at ``/stream``."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await receive()
    if scope["path"] == "/stream":
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        for _ in range(100):
            await asyncio.sleep(0.002)
            await send({"type": "http.response.body", "body": _FRAME, "more_body": True})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})
        return
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(_ANSWER)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": _ANSWER})


def _serve(kind: str, port: int) -> None:
    if kind == "uvicorn":
        import uvicorn

        uvicorn.run(
            app, port=port, loop="uvloop", http="httptools", log_config=None, access_log=False,
            server_header=False, date_header=False,
        )  # fmt: skip
    else:
        from bastion.server.process import serve_process
        from bastion.server.sockets import listen
        from bastion.settings import ServerSettings

        serve_process(app, ServerSettings(), listen("127.0.0.1", port))


def _start(kind: str, port: int) -> subprocess.Popen[bytes]:
    if kind == "granian":
        argv = [str(GRANIAN), "--interface", "asgi", "--loop", "uvloop", "--http", "1", "--no-ws"]
        argv += ["--port", str(port), "--log-level", "warning", "bench.server_only:app"]
        return subprocess.Popen(argv, cwd=ROOT, stderr=subprocess.DEVNULL)
    argv = [_PYTHON, "-m", "bench.server_only", "serve", kind, str(port)]
    return subprocess.Popen(argv, cwd=ROOT, stderr=subprocess.DEVNULL)


def _step(kind: str, path: str, concurrency: int, requests: int, stream: bool) -> float:
    """The server's CPU milliseconds per request (or stream) over one measured step."""
    port = free_port()
    process = _start(kind, port)
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", data=b"{}", timeout=1).read()
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.05)  # the harness polls a starting process; nothing is measured yet
        spec = {
            "url": f"http://127.0.0.1:{port}{path}",
            "headers": {"content-type": "application/json"},
            "body": {"x": 1},
            "stream": stream,
            "concurrency": concurrency,
            "requests": requests,
            "seconds": 20,
            "warmup_requests": 20 if stream else 200,
            "warmup_seconds": 1,
            "cpu_pids": process_tree(process.pid),
        }
        done = subprocess.run(
            [sys.executable, "-m", "bench.load", json.dumps(spec)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            check=True,
        )
        return float(json.loads(done.stdout.strip().splitlines()[-1])["cpu_ms_per_request"])
    finally:
        process.terminate()
        process.wait()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] == ["serve"]:
        _serve(args[1], int(args[2]))
        return 0
    rounds = int(args[0]) if args else 3
    kinds = ["bastion", "uvicorn"] + (["granian"] if GRANIAN.exists() else [])
    cpu: dict[str, list[tuple[float, float]]] = {kind: [] for kind in kinds}
    for _ in range(rounds):
        for kind in kinds:
            plain, streams = _step(kind, "/", 16, 20000, False), _step(kind, "/stream", 32, 640, True)
            cpu[kind].append((plain, streams))
            print(f"{kind:8} c16 {plain:.4f} ms/request · stream c32 {streams:.3f} ms/stream", flush=True)
    for kind, values in cpu.items():
        plain = statistics.median(v[0] for v in values)
        streams = statistics.median(v[1] for v in values)
        print(f"median {kind:8} {plain:.4f} ms/request · {streams:.3f} ms/stream")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
