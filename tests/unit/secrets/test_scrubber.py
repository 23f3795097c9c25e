"""The boundary scrubber: whole bodies, streams split anywhere, headers, per-call keys."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import orjson
import pytest

from bastion.secrets.scrubber import Scrubber, scrub_also, worth_scrubbing

KEY = "tok-123abc"
LONG = "sk-ant-api03-abcdefghijklmnop-QRSTUV"


class Sent:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def __call__(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.messages if m["type"] == "http.response.body")

    def headers(self) -> dict[bytes, bytes]:
        return dict(self.messages[0]["headers"])


def run(coro: Any) -> Any:
    return contextvars.copy_context().run(asyncio.run, coro)


def test_whole_body_is_scrubbed_and_its_length_corrected() -> None:
    sent = Sent()

    async def go() -> None:
        send = Scrubber([KEY]).wrap(sent)
        body = orjson.dumps({"error": {"message": f"bad key {KEY}", "code": KEY}})
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"x-echo", f"Bearer {KEY}".encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    run(go())
    assert KEY.encode() not in sent.body()
    assert orjson.loads(sent.body())["error"]["code"] == "[REDACTED]"
    assert int(sent.headers()[b"content-length"]) == len(sent.body())
    assert sent.headers()[b"x-echo"] == b"Bearer [REDACTED]"


@pytest.mark.parametrize("secret", [KEY, LONG, 'we"ird\\key/with-7-quotes'])
def test_a_secret_split_across_writes_is_caught_at_every_cut(secret: str) -> None:
    frame = b"data: " + orjson.dumps({"error": {"message": f"quoted {secret} here"}}) + b"\n\n"
    expected = frame.replace(orjson.dumps(secret)[1:-1], b"[REDACTED]")
    scrubber = Scrubber([secret])

    async def go() -> None:
        for cut in range(1, len(frame)):
            for second in range(cut, len(frame)):
                sent = Sent()
                send = scrubber.wrap(sent)
                await send({"type": "http.response.start", "status": 200, "headers": []})
                for part in (frame[:cut], frame[cut:second], frame[second:]):
                    await send({"type": "http.response.body", "body": part, "more_body": True})
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                assert sent.body() == expected, (cut, second)

    run(go())


def test_a_whole_frame_is_never_held_back() -> None:
    """A stream write that ends a frame is forwarded at once: only a possible secret start waits."""
    sent = Sent()

    async def go() -> None:
        send = Scrubber([KEY]).wrap(sent)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"data: tok-\n\n", "more_body": True})
        assert sent.body() == b"data: tok-\n\n"
        await send({"type": "http.response.body", "body": b"data: x tok-1", "more_body": True})
        assert sent.body() == b"data: tok-\n\ndata: x "  # "tok-1" could be the key's start

    run(go())


def test_a_key_chosen_for_the_call_is_scrubbed_from_its_response() -> None:
    sent = Sent()

    async def go() -> None:
        send = Scrubber([KEY]).wrap(sent)
        scrub_also("sk-user-own-key-0042")  # what the credential chooser does
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"sk-user-own-key-0042 and tok-123abc"})

    run(go())
    assert sent.body() == b"[REDACTED] and [REDACTED]"


def test_placeholders_are_not_secrets() -> None:
    for placeholder in ("EMPTY", "none", "not-needed", "anything", "123456789"):
        assert not worth_scrubbing(placeholder)
    for secret in (KEY, "sk-1234", LONG, "abcdefghijklmnopq"):
        assert worth_scrubbing(secret)
    assert Scrubber(["not-needed"]).scrub(b"not-needed") == b"not-needed"


def test_a_streams_head_leaves_at_once_and_a_clean_answer_is_untouched() -> None:
    sent = Sent()

    async def go() -> None:
        send = Scrubber([KEY]).wrap(sent)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"x-a", KEY.encode())]})
        assert sent.messages and sent.headers()[b"x-a"] == b"[REDACTED]"  # not held for the body

    run(go())
    clean = Sent()

    async def whole() -> None:
        send = Scrubber([KEY]).wrap(clean)
        # A HEAD answer: the length of the body a GET would get, and no body.
        start = {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]}
        await send(start)
        await send({"type": "http.response.body", "body": b""})
        assert clean.messages[0] is start

    run(whole())
