"""The one scrubber at the boundary: no configured secret leaves in a byte sent to a client.

:class:`Scrubber` holds every secret value the gateway knows (each deployment's provider key
whatever its shape, the master key, static keys, ...), in the forms a response can carry them
(raw UTF-8, JSON-escaped, ASCII-escaped). :meth:`Scrubber.wrap` wraps one response's ASGI ``send``:

* a whole body (``content-length`` known) is scrubbed once and its length header corrected;
* a stream (SSE) is scrubbed chunk by chunk, keeping back only the tail of a chunk that could be the
  start of a secret, so a value split across two writes is still caught (an SSE frame ends with a
  newline, which no secret holds, so a complete frame is never held back);
* header values are scrubbed too.

A key chosen per call (a user's own provider key, a system key stored in the database) is added to
the current response's scrubber with :func:`scrub_also` from wherever it is chosen; the response
being sent is found through a context variable, so nothing else needs threading through.

The cost when no secret is present is one ``in`` check per secret form per body write (bytes
search); a replacement only happens on a hit. Values that look like placeholders rather than
secrets (shorter than 6 characters, no letter, or a plain word under 16 characters without a digit,
such as ``EMPTY`` or ``not-needed``) are left alone: scrubbing them would corrupt ordinary text.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import orjson

__all__ = ["REPLACEMENT", "Scrubber", "scrub_also", "worth_scrubbing"]

REPLACEMENT = b"[REDACTED]"

_Send = Callable[[dict[str, Any]], Awaitable[None]]

#: The response being sent in this context (set by :meth:`Scrubber.wrap`), for :func:`scrub_also`.
_current: contextvars.ContextVar[_ScrubbingSend | None] = contextvars.ContextVar(
    "bastion_scrub", default=None
)


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

    __slots__ = ("_alphabet", "_forms", "_groups", "_longest", "_prefixes")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms: set[bytes] = set()
        for secret in secrets:
            if secret and worth_scrubbing(secret):
                forms |= _forms(secret)
        self._index(forms)

    def _index(self, forms: set[bytes]) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self._forms: tuple[bytes, ...] = tuple(sorted(forms, key=len, reverse=True))
        # Keys share prefixes (sk-proj-, sk-ant-): one search per distinct 4-byte head, and the
        # whole forms only under a head that is present.
        groups: dict[bytes, list[bytes]] = {}
        for form in self._forms:
            groups.setdefault(form[:4], []).append(form)
        self._groups = tuple((head, tuple(members)) for head, members in groups.items())
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
        for head, forms in self._groups:
            if head in data:
                for form in forms:
                    if form in data:
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
        """``send`` scrubbing this response; also makes it the target of :func:`scrub_also`."""
        wrapped = _ScrubbingSend(self, send)
        _current.set(wrapped)
        return wrapped


def scrub_also(secret: str | None) -> None:
    """Scrub ``secret`` from the response being sent in this context (a key chosen for this call)."""
    if not secret:
        return
    current = _current.get()
    if current is not None:
        current.add(secret)


class _ScrubbingSend:
    """One response's ``send``: holds the start until the body shows whether it is whole or a stream."""

    __slots__ = ("_extra", "_pending", "_scrubber", "_send", "_start")

    def __init__(self, scrubber: Scrubber, send: _Send) -> None:
        self._scrubber = scrubber
        self._send = send
        self._start: dict[str, Any] | None = None
        self._pending = b""
        self._extra: set[str] = set()

    def add(self, secret: str) -> None:
        if secret not in self._extra:
            self._extra.add(secret)
            self._scrubber = self._scrubber.with_secrets((secret,))

    async def __call__(self, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "http.response.start":
            self._start = message
            return
        if kind != "http.response.body":
            await self._send(message)
            return
        scrubber = self._scrubber
        body: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        start = self._start
        if start is not None:
            self._start = None
            if not more:
                # The whole answer in one write: scrub it and say its real length.
                body = scrubber.scrub(body)
                await self._send(self._head(start, len(body)))
                await self._send({"type": "http.response.body", "body": body})
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

    def _head(self, start: dict[str, Any], length: int | None) -> dict[str, Any]:
        scrubber = self._scrubber
        headers: list[tuple[bytes, bytes]] = []
        for name, value in start.get("headers", ()):
            if name.lower() == b"content-length":
                if length is None:
                    continue  # a stream's length is unknown once scrubbed: sent chunked
                value = str(length).encode()
            elif scrubber.active:
                value = scrubber.scrub(value)
            headers.append((name, value))
        return {**start, "headers": headers}
