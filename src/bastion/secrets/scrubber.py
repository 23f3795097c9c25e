"""The one scrubber at the boundary: no configured secret leaves in a byte sent to a client.

:class:`Scrubber` holds every secret value the gateway knows (each deployment's provider key
whatever its shape, the master key, static keys, ...), in the forms a response can carry them
(raw UTF-8, JSON-escaped, ASCII-escaped). :meth:`Scrubber.wrap` wraps one response's ASGI ``send``:

* a whole body (``content-length`` known) is scrubbed once and its length header corrected (its
  head waits for it);
* a stream (SSE, no ``content-length``: its head leaves at once) is scrubbed chunk by chunk,
  keeping back only the tail of a chunk that could be the start of a secret, so a value split
  across two writes is still caught (an SSE frame ends with a newline, which no secret holds, so
  a complete frame is never held back);
* header values are scrubbed too.

:meth:`_ScrubbingSend.body_chunk` takes a stream's next chunk without an ASGI message (what
:func:`bastion.api.asgi.stream_response` sends a token with); when the ``send`` it wraps is
Bastion's own server's it hands the scrubbed bytes on the same way, with no message and no
coroutine in between (see :meth:`bastion.server._cycle.RequestCycle.body_chunk`).

A key chosen per call (a user's own provider key, a system key stored in the database) is added
with :func:`scrub_also` from wherever it is chosen (:mod:`bastion.domain.call_secrets`: a context
variable, so nothing needs threading through); the call's answer is scrubbed of it from then on,
and its log lines too.

The cost when no secret is present is one ``in`` check (a bytes search) per secret form per body
write; a replacement only happens on a hit. Values that look like
placeholders rather than secrets (shorter than 6 characters, no letter, or a plain word under 16
characters without a digit, such as ``EMPTY`` or ``not-needed``) are left alone: scrubbing them
would corrupt ordinary text.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson

from bastion.domain.call_secrets import add_call_secret, begin_call_secrets

__all__ = ["REPLACEMENT", "Scrubber", "scrub_also", "worth_scrubbing"]

REPLACEMENT = b"[REDACTED]"

_Send = Callable[[dict[str, Any]], Awaitable[None]]
_BodyChunk = Callable[[bytes], Awaitable[None] | None]

#: Scrub a key chosen for this call from its answer (and its log lines) from now on.
scrub_also = add_call_secret


def worth_scrubbing(value: str) -> bool:
    """Whether ``value`` is a secret worth removing from responses, not a placeholder or a word."""
    if len(value) < 6 or not any(c.isalpha() for c in value):
        return False
    return len(value) >= 16 or any(c.isdigit() for c in value)


def _forms(value: str) -> set[bytes]:
    """The byte sequences a secret can take in a response: raw, and escaped as a JSON string is."""
    raw = value.encode()
    escaped = orjson.dumps(value)[1:-1]
    found = {raw, escaped, _ascii_escaped(escaped.decode())}
    found.update({form.replace(b"/", b"\\/") for form in found if b"/" in form})
    return found


def _ascii_escaped(text: str) -> bytes:
    """``text`` (already JSON-escaped) as an ASCII-only JSON encoder writes it: ``\\uXXXX``."""
    out: list[str] = []
    for char in text:
        code = ord(char)
        if code < 0x80:
            out.append(char)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
    return "".join(out).encode()


class Scrubber:
    """Removes the secret values it holds from response bytes."""

    __slots__ = ("_alphabet", "_forms", "_longest", "_prefixes")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: set[bytes] = set()
        for secret in secrets:
            if secret and worth_scrubbing(secret):
                forms |= _forms(secret)
        self._index(forms)

    def _index(self, forms: set[bytes]) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self._forms: tuple[bytes, ...] = tuple(sorted(forms, key=len, reverse=True))
        self._longest = max((len(f) for f in self._forms), default=0)
        #: Every byte a secret form holds: a chunk ending in any other byte holds no secret's start.
        self._alphabet = frozenset(b for form in self._forms for b in form)
        self._prefixes = frozenset(form[:k] for form in self._forms for k in range(1, len(form)))

    @property
    def active(self) -> bool:
        return bool(self._forms)

    def with_secrets(self, secrets: Iterable[str]) -> Scrubber:
        """A scrubber holding these secrets as well (a per-call key)."""
        extra = Scrubber(secrets)
        if not extra._forms:
            return self
        merged = Scrubber()
        merged._index(set(self._forms) | set(extra._forms))
        return merged

    def scrub(self, data: bytes) -> bytes:
        """``data`` with every secret form replaced by ``[REDACTED]``."""
        # One bytes search per form: a long needle skips ahead fast, which measured quicker than
        # searching shared short prefixes (sk-) first or one compiled alternation.
        # ``find``, not ``in``: on CPython 3.11 ``bytes in bytes`` first tries the needle as an
        # integer (raising and clearing an error), which costs more than the search.
        for form in self._forms:
            if data.find(form) >= 0:
                data = data.replace(form, REPLACEMENT)
        return data

    def holdback(self, data: bytes) -> int:
        """How many trailing bytes of ``data`` could be the start of a secret (kept for the next write)."""
        if not data or data[-1] not in self._alphabet:
            return 0
        prefixes = self._prefixes
        for k in range(min(self._longest - 1, len(data)), 0, -1):
            if data[-k:] in prefixes:
                return k
        return 0

    def scrub_text(self, text: str) -> str:
        """``text`` scrubbed (for the rare caller holding a string)."""
        if not self._forms:
            return text
        return self.scrub(text.encode()).decode(errors="replace")

    def wrap(self, send: _Send) -> _Send:
        """``send`` scrubbing this response, and the secrets :func:`scrub_also` adds during it."""
        return _ScrubbingSend(self, send, begin_call_secrets())


class _ScrubbingSend:
    """One response's ``send``: holds the start until the body shows whether it is whole or a stream."""

    __slots__ = ("_base", "_direct", "_extra", "_pending", "_scrubber", "_send", "_start", "_used")

    def __init__(self, scrubber: Scrubber, send: _Send, extra: set[str]) -> None:
        self._base = self._scrubber = scrubber
        self._send = send
        #: The server's own way to send a stream's chunk, when ``send`` is Bastion's server's.
        self._direct: _BodyChunk | None = getattr(getattr(send, "__self__", None), "body_chunk", None)
        self._start: dict[str, Any] | None = None
        self._pending = b""
        #: The call's own secrets (filled by scrub_also), and how many the scrubber holds.
        self._extra = extra
        self._used = 0

    async def __call__(self, message: dict[str, Any]) -> None:
        if len(self._extra) != self._used:
            self._used = len(self._extra)
            self._scrubber = self._base.with_secrets(tuple(self._extra))
        kind = message["type"]
        scrubber = self._scrubber
        if kind == "http.response.body" and self._start is None and not self._pending:
            # The common case, a stream's next chunk: passed on as it is unless it holds a secret.
            body: bytes = message.get("body", b"")
            if not body or not scrubber.active:
                await self._send(message)
                return
            more = message.get("more_body", False)
            scrubbed = scrubber.scrub(body)
            keep = scrubber.holdback(scrubbed) if more else 0
            if scrubbed is body and not keep:
                await self._send(message)
                return
            if keep:
                scrubbed, self._pending = scrubbed[:-keep], scrubbed[-keep:]
            await self._send({"type": "http.response.body", "body": scrubbed, "more_body": more})
            return
        if kind == "http.response.start":
            if any(name.lower() == b"content-length" for name, _ in message.get("headers", ())):
                self._start = message  # a whole body follows, whose length scrubbing may change
            else:
                await self._send(self._head(message, None))  # a stream: its head leaves at once
            return
        if kind != "http.response.body":
            await self._send(message)
            return
        body = message.get("body", b"")
        more = message.get("more_body", False)
        start = self._start
        if start is not None:
            self._start = None
            if not more:
                # The whole answer in one write: scrub it and correct its length if it changed.
                scrubbed = scrubber.scrub(body)
                await self._send(self._head(start, len(body) - len(scrubbed)))
                await self._send(message if scrubbed is body else {**message, "body": scrubbed})
                return
            await self._send(self._head(start, None))
        if self._pending:
            body = self._pending + body
            self._pending = b""
        if scrubber.active and body:
            body = scrubber.scrub(body)
            if more:
                keep = scrubber.holdback(body)
                if keep:
                    body, self._pending = body[:-keep], body[-keep:]
        if body or not more:
            await self._send({"type": "http.response.body", "body": body, "more_body": more})

    def body_chunk(self, body: bytes) -> Awaitable[None] | None:
        """``self({"type": "http.response.body", "body": body, "more_body": True})``, scrubbed the
        same way (a held-back tail included), without the message when it can; returns what to
        await before the next chunk, or ``None`` when the bytes are already on their way."""
        if self._start is not None:
            return self({"type": "http.response.body", "body": body, "more_body": True})
        if len(self._extra) != self._used:
            self._used = len(self._extra)
            self._scrubber = self._base.with_secrets(tuple(self._extra))
        scrubber = self._scrubber
        if self._pending:
            body = self._pending + body
            self._pending = b""
        if scrubber._forms and body:
            body = scrubber.scrub(body)
            # holdback() is 0 unless the last byte is in a secret (an SSE frame ends in a newline).
            if body[-1] in scrubber._alphabet:
                keep = scrubber.holdback(body)
                if keep:
                    body, self._pending = body[:-keep], body[-keep:]
        direct = self._direct
        if direct is not None:
            return direct(body)
        if not body:
            return None
        return self._send({"type": "http.response.body", "body": body, "more_body": True})

    def _head(self, start: dict[str, Any], shrunk: int | None) -> dict[str, Any]:
        """``start`` with its header values scrubbed and its ``content-length`` less ``shrunk``
        bytes (dropped when ``None``: a body sent in parts is sent chunked)."""
        scrubber = self._scrubber
        if not scrubber.active:
            return start
        headers: list[tuple[bytes, bytes]] = []
        changed = False
        for name, value in start.get("headers", ()):
            new = value
            if name.lower() == b"content-length":
                if shrunk is None:
                    changed = True
                    continue
                if shrunk:
                    new = str(int(value) - shrunk).encode()
            else:
                new = scrubber.scrub(value)
            changed = changed or new is not value
            headers.append((name, new))
        return {**start, "headers": headers} if changed else start
