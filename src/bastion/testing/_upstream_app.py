"""The mock upstream as a raw ASGI app: routing, recording, scripted faults, sending.

No framework on purpose: the benchmark measures the gateway against this app, so it must cost as
little as possible per request and per frame.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson

from bastion.tasks import spawn_awaited
from bastion.testing import _upstream_anthropic as anthropic
from bastion.testing import _upstream_gemini as gemini
from bastion.testing import _upstream_openai as openai
from bastion.testing import _upstream_openai_responses as openai_responses
from bastion.testing._upstream_reply import ErrorRenderer, Reply, Stream, json_reply, str_field
from bastion.testing._upstream_script import (
    Fault,
    RecordedRequest,
    Script,
    fault_from_json,
    recorded_to_json,
)

__all__ = ["MockApp"]

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Handler = Callable[[dict[str, Any], "str | None", dict[str, str]], "Reply | Stream"]

_EXACT: dict[tuple[str, str], tuple[Handler, ErrorRenderer]] = {
    ("POST", "/v1/chat/completions"): (openai.chat, openai.error_reply),
    ("POST", "/v1/embeddings"): (openai.embeddings, openai.error_reply),
    ("POST", "/v1/responses"): (openai_responses.responses, openai.error_reply),
    ("POST", "/v1/messages"): (anthropic.messages, anthropic.error_reply),
    ("POST", "/v1/messages/count_tokens"): (anthropic.count_tokens, anthropic.error_reply),
    ("GET", "/v1beta/models"): (gemini.models, gemini.error_reply),
}
_AZURE = {"chat/completions": openai.chat, "embeddings": openai.embeddings}
_GEMINI: dict[str, Handler] = {
    "generateContent": gemini.generate_content,
    "streamGenerateContent": gemini.stream_generate_content,
    "countTokens": gemini.count_tokens,
    "embedContent": gemini.embed_content,
    "batchEmbedContents": gemini.batch_embed_contents,
}
_JSON = (b"content-type", b"application/json")


def _route(
    method: str, path: str, headers: dict[str, str]
) -> tuple[Handler | None, ErrorRenderer, str | None]:
    """(handler or None for 404, the error renderer of the path's protocol, model named by the path)."""
    exact = _EXACT.get((method, path))
    if exact is not None:
        return exact[0], exact[1], None
    if method == "GET" and path == "/v1/models":
        if "anthropic-version" in headers:
            return anthropic.models, anthropic.error_reply, None
        return openai.models, openai.error_reply, None
    if path.startswith(("/v1beta/models/", "/v1/models/")):
        model, _, action = path.split("/", 3)[3].partition(":")
        return (_GEMINI.get(action) if method == "POST" else None), gemini.error_reply, model
    if path.startswith("/openai/deployments/"):
        deployment, _, rest = path[len("/openai/deployments/") :].partition("/")
        return (_AZURE.get(rest) if method == "POST" else None), openai.error_reply, deployment
    if path.startswith("/v1beta/"):
        return None, gemini.error_reply, None
    if "anthropic-version" in headers or path.startswith("/v1/messages"):
        return None, anthropic.error_reply, None
    return None, openai.error_reply, None


class MockApp:
    """ASGI callable serving the three providers' wire protocols plus the ``/_mock/`` control API."""

    def __init__(self, script: Script, *, token_delay: float = 0.0) -> None:
        self.script = script
        self.token_delay = token_delay
        self.closing = asyncio.Event()

    def close(self) -> None:
        """Wake every waiting handler (delays, hangs) so the server can stop; call on its loop."""
        self.closing.set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await _read_body(receive)
        if body is None:
            return  # the client left before sending its body
        method: str = scope["method"]
        path: str = scope["path"]
        if path.startswith("/_mock/"):
            await _send_reply(send, self._control(method, path, body))
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
        parsed: Any = body
        if body:
            try:
                parsed = orjson.loads(body)
            except orjson.JSONDecodeError:
                pass
        self.script.record(RecordedRequest(method, path, query, headers, parsed))
        handler, error_reply, model = _route(method, path, headers)
        if handler is None:
            await _send_reply(send, error_reply(404, f"No route for {method} {path}", None))
            return
        if method == "POST" and not isinstance(parsed, dict):
            await _send_reply(send, error_reply(400, "The request body must be a JSON object.", None))
            return
        request = parsed if isinstance(parsed, dict) else {}
        fault = self.script.take(model or str_field(request, "model"))
        if fault is not None and not await self._before_answer(fault, receive, send, error_reply):
            return
        answer = handler(request, model, query)
        if isinstance(answer, Reply):
            if fault is not None and fault.drop_after is not None:
                await _drop(send, receive)
                return
            await _send_reply(send, answer)
            return
        await self._send_stream(send, receive, answer, fault)

    async def _before_answer(self, fault: Fault, receive: Receive, send: Send, error: ErrorRenderer) -> bool:
        """Apply hang, delay and status; True when the normal answer should follow."""
        if fault.hang:
            await self._hang(receive, send)
            return False
        if fault.delay > 0 and await self._pause(fault.delay):
            await _drop(send, receive)
            return False
        if fault.status is not None:
            await _send_reply(send, error(fault.status, fault.message, fault.retry_after))
            return False
        return True

    async def _send_stream(self, send: Send, receive: Receive, stream: Stream, fault: Fault | None) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": stream.headers})
        drop_after = error_after = None
        if fault is not None:
            drop_after, error_after = fault.drop_after, fault.error_after
            if fault.first_token_delay > 0 and await self._pause(fault.first_token_delay):
                await _drop(send, receive)
                return
        if stream.head:
            await send({"type": "http.response.body", "body": b"".join(stream.head), "more_body": True})
        delay = self.token_delay
        for sent in range(len(stream.tokens) + 1):
            if sent == drop_after:
                await _drop(send, receive)
                return
            if sent == error_after:
                assert fault is not None
                await send({"type": "http.response.body", "body": stream.error(fault.message)})
                return
            if sent == len(stream.tokens):
                break
            if delay > 0 and sent > 0:
                await asyncio.sleep(delay)
                if self.closing.is_set():
                    await _drop(send, receive)
                    return
            await send({"type": "http.response.body", "body": stream.tokens[sent], "more_body": True})
        await send({"type": "http.response.body", "body": b"".join(stream.tail)})

    async def _pause(self, seconds: float) -> bool:
        """Wait ``seconds``, or less if the mock is stopping; True when it is stopping."""
        try:
            await asyncio.wait_for(self.closing.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _hang(self, receive: Receive, send: Send) -> None:
        """Answer nothing until the client disconnects (or the mock stops: then drop the connection)."""
        left = spawn_awaited(receive(), name="mock-receive")
        stopping = spawn_awaited(self.closing.wait(), name="mock-stopping")
        done, pending = await asyncio.wait({left, stopping}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        if stopping in done:
            await _drop(send, receive)

    def _control(self, method: str, path: str, body: bytes) -> Reply:
        if method == "GET" and path == "/_mock/requests":
            return json_reply([recorded_to_json(r) for r in self.script.requests()])
        if method == "POST" and path == "/_mock/reset":
            self.script.reset()
            return json_reply({"ok": True})
        if method == "POST" and path == "/_mock/script":
            try:
                spec = orjson.loads(body or b"[]")
                model = None
                if isinstance(spec, dict):
                    model, spec = spec.get("model"), spec.get("faults")
                if not isinstance(spec, list) or not (model is None or isinstance(model, str)):
                    raise ValueError("expected a list of faults or {'model': str, 'faults': [...]}")
                faults = tuple(fault_from_json(item) for item in spec)
            except (ValueError, TypeError) as exc:  # orjson.JSONDecodeError is a ValueError
                return json_reply({"error": str(exc)}, 400)
            self.script.add(faults, model)
            return json_reply({"queued": len(faults)})
        return json_reply({"error": f"no control route {method} {path}"}, 404)


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send_reply(send: Send, reply: Reply) -> None:
    headers = [_JSON, (b"content-length", str(len(reply.body)).encode()), *reply.headers]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})


async def _drop(send: Send, receive: Receive) -> None:
    """Close the TCP connection without finishing the response.

    ASGI has no message for this, so reach uvicorn's transport through the bound ``send``; closing
    it (after flushing what was written) and waiting for the disconnect keeps uvicorn from logging
    an unfinished response. Under another server, returning unfinished makes it close the
    connection anyway.
    """
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None:
        return
    transport.close()
    await receive()


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
