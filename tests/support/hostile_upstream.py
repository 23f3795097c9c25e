"""Upstreams that misbehave on purpose, each on a real socket in a background thread.

:func:`hostile_app` quotes every request header (and the query string) back in every error shape
the three provider protocols have; the upstream model name picks the shape (``hostile-<mode>``):

* ``json``: an HTTP 401 JSON error whose every field (message, type, param, code, nested objects)
  quotes the headers;
* ``sse``: HTTP 200 ``text/event-stream`` whose first frame is the protocol's in-band error
  (OpenAI ``data: {"error": ...}``, Anthropic ``event: error``, a Gemini error object);
* ``mid``: a normal first frame, then the in-band error;
* ``split``: the in-band error written in two socket writes, cut in the middle of the quote;
* ``echo``: a normal, successful answer whose text is the quote.

:class:`BlockingApp` holds every request until the test releases it, and records when the
gateway closes the connection (an event, never a sleep).

``ServedApp(app)`` serves either on ``127.0.0.1`` (port 0) until the ``with`` block ends.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any

import orjson
import uvicorn
import uvloop

__all__ = ["BlockingApp", "ServedApp", "hostile_app"]

_App = Callable[..., Any]
_SSE = [(b"content-type", b"text/event-stream")]
_JSON = [(b"content-type", b"application/json")]


async def _read_body(receive: Any) -> bytes:
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return body
        body += bytes(message.get("body", b""))
        if not message.get("more_body"):
            return body


def _protocol_and_model(path: str, body: bytes) -> tuple[str, str]:
    if "/models/" in path and ":" in path:  # Gemini: /v1beta/models/{model}:generateContent
        return "gemini", path.split("/models/", 1)[1].split(":", 1)[0]
    try:
        data = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        data = {}
    model = data.get("model", "") if isinstance(data, dict) else ""
    return ("anthropic" if path.endswith("/messages") else "openai"), str(model)


def _error_object(protocol: str, quote: str, headers: dict[str, str]) -> dict[str, Any]:
    """The protocol's error body, every field quoting what the upstream was sent."""
    if protocol == "anthropic":
        return {
            "type": "error",
            "error": {
                "type": "authentication_error",
                "message": f"invalid x-api-key: {quote}",
                "param": quote,
                "code": quote,
                "details": {"headers": headers},
            },
        }
    if protocol == "gemini":
        return {
            "error": {
                "code": 400,
                "message": f"API key not valid. {quote}",
                "status": "INVALID_ARGUMENT",
                "details": [
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": quote,
                        "metadata": headers,
                    }
                ],
            }
        }
    return {
        "error": {
            "message": f"Incorrect API key provided: {quote}",
            "type": quote,
            "param": quote,
            "code": quote,
            "details": {"headers": headers, "nested": [{"quote": quote}]},
        }
    }


def _first_frame(protocol: str, model: str) -> bytes:
    """A normal first frame, before a mid-stream error."""
    if protocol == "anthropic":
        start = {
            "type": "message_start",
            "message": {
                "id": "msg_hostile",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "usage": {"input_tokens": 3, "output_tokens": 1},
            },
        }
        block = {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        delta = {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}}
        return b"".join(
            b"event: %s\ndata: %s\n\n" % (str(obj["type"]).encode(), orjson.dumps(obj))
            for obj in (start, block, delta)
        )
    return b"data: %s\n\n" % orjson.dumps(_answer(protocol, model, "Hello", stream=True))


def _answer(protocol: str, model: str, text: str, *, stream: bool) -> dict[str, Any]:
    if protocol == "gemini":
        return {
            "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}],
            "usageMetadata": {"promptTokenCount": 3, "candidatesTokenCount": 1, "totalTokenCount": 4},
            "modelVersion": model,
        }
    if protocol == "anthropic":
        return {
            "id": "msg_hostile",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 3, "output_tokens": 1},
        }
    if stream:
        return {
            "id": "chatcmpl-hostile",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": model,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}],
        }
    return {
        "id": "chatcmpl-hostile",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }


def _stream_answer(protocol: str, model: str, text: str) -> list[bytes]:
    """A whole, successful stream whose text is ``text``."""
    if protocol == "gemini":
        chunk = _answer(protocol, model, text, stream=True)
        chunk["candidates"][0]["finishReason"] = "STOP"
        return [b"data: %s\n\n" % orjson.dumps(chunk)]
    if protocol == "anthropic":
        events: list[dict[str, Any]] = [
            {
                "type": "message_start",
                "message": {**_answer(protocol, model, "", stream=True), "content": [], "stop_reason": None},
            },
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
            {"type": "content_block_stop", "index": 0},
            {"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}},
            {"type": "message_stop"},
        ]
        return [b"event: %s\ndata: %s\n\n" % (e["type"].encode(), orjson.dumps(e)) for e in events]
    first = _answer(protocol, model, text, stream=True)
    last = {**first, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    return [b"data: %s\n\n" % orjson.dumps(first), b"data: %s\n\n" % orjson.dumps(last), b"data: [DONE]\n\n"]


def _error_frame(protocol: str, error: dict[str, Any]) -> bytes:
    if protocol == "anthropic":
        return b"event: error\ndata: %s\n\n" % orjson.dumps(error)
    return b"data: %s\n\n" % orjson.dumps(error)


def hostile_app() -> _App:
    """The upstream that quotes its request's headers in every error shape (see the module doc)."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        query = scope.get("query_string", b"").decode("latin-1")
        quote = "; ".join(f"{k}: {v}" for k, v in headers.items()) + f"; query: {query}"
        protocol, model = _protocol_and_model(scope["path"], body)
        mode = model.rsplit("-", 1)[-1]
        error = _error_object(protocol, quote, headers)
        stream = b'"stream":true' in body.replace(b" ", b"") or "stream" in scope["path"]

        async def start(status: int, kind: list[tuple[bytes, bytes]]) -> None:
            # The quote in a response header too: a gateway that forwards headers must scrub them.
            extra = [(b"x-hostile-echo", quote.encode("latin-1", "replace"))]
            await send({"type": "http.response.start", "status": status, "headers": kind + extra})

        async def write(data: bytes, more: bool = True) -> None:
            await send({"type": "http.response.body", "body": data, "more_body": more})

        if mode == "json":
            await start(401, _JSON)
            await write(orjson.dumps(error), more=False)
            return
        if mode == "echo":
            if stream:
                await start(200, _SSE)
                for frame in _stream_answer(protocol, model, quote):
                    await write(frame)
                await write(b"", more=False)
            else:
                await start(200, _JSON)
                await write(orjson.dumps(_answer(protocol, model, quote, stream=False)), more=False)
            return
        await start(200, _SSE)
        if mode == "mid":
            await write(_first_frame(protocol, model))
        frame = _error_frame(protocol, error)
        if mode == "split":
            # Cut inside the first quoted header value, so each write holds half of it.
            cut = frame.index(b": ", frame.index(b"message")) + 12
            await write(frame[:cut])
            await write(frame[cut:])
        else:
            await write(frame)
        await write(b"", more=False)

    return app


class BlockingApp:
    """An OpenAI-compatible upstream that holds each call until :meth:`release` and notes when the
    gateway hangs up on it (``disconnected``, set from the server thread)."""

    def __init__(self) -> None:
        self.received = threading.Event()
        self.disconnected = threading.Event()
        self.finished = threading.Event()
        self._release: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def release(self) -> None:
        if self._loop is not None and self._release is not None:
            self._loop.call_soon_threadsafe(self._release.set)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        self._loop = asyncio.get_running_loop()
        if self._release is None:
            self._release = asyncio.Event()
        body = await _read_body(receive)
        self.received.set()
        release = asyncio.ensure_future(self._release.wait())
        gone = asyncio.ensure_future(receive())  # the next message is http.disconnect, when it comes
        done, _ = await asyncio.wait((release, gone), return_when=asyncio.FIRST_COMPLETED)
        if gone in done:
            self.disconnected.set()
            release.cancel()
            return
        gone.cancel()
        data = orjson.loads(body) if body else {}
        answer = _answer("openai", str(data.get("model", "")), "released", stream=False)
        await send({"type": "http.response.start", "status": 200, "headers": _JSON})
        await send({"type": "http.response.body", "body": orjson.dumps(answer)})
        self.finished.set()


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_started: Callable[[], None]) -> None:
        super().__init__(config)
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self._on_started()


class ServedApp:
    """An ASGI app served by uvicorn on a loopback port in a background thread."""

    def __init__(self, app: _App) -> None:
        config = uvicorn.Config(
            app, http="httptools", lifespan="off", access_log=False, log_level="warning", log_config=None
        )
        self._ready = threading.Event()
        self._server = _Server(config, self._ready.set)
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._run, name="served-app", daemon=True)

    def _run(self) -> None:
        loop = uvloop.new_event_loop()
        try:
            loop.run_until_complete(self._server.serve(sockets=[self._sock]))
        finally:
            self._sock.close()
            loop.close()
            self._ready.set()

    def __enter__(self) -> ServedApp:
        self._thread.start()
        self._ready.wait(timeout=30)
        if not self._server.started:
            raise RuntimeError("the upstream app did not start")
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
