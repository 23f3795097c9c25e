"""JSON logging that never blocks the event loop and never prints a secret.

Records are formatted on the calling thread (cheap, orjson) and written by a background thread
through a queue, in batches, so a slow terminal or pipe cannot stall requests.
Every line passes through :class:`Redactor`, which removes the configured secret values, the keys
chosen for the call being served (:mod:`bastion.domain.call_secrets`) and anything shaped like a
key or a bearer token.
"""

from __future__ import annotations

import logging
import queue
import re
import sys
import threading
import time
from collections.abc import Iterable
from typing import Any

import orjson

from bastion.domain.call_secrets import call_secrets

__all__ = [
    "JsonFormatter",
    "Redactor",
    "configure_logging",
    "log_fields",
    "request_logger",
    "shutdown_logging",
]

_KEY_SHAPES = re.compile(
    r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|\b(sk|am_sk|rk|pk)-[A-Za-z0-9_-]{6,}"
    r"|\bAIza[0-9A-Za-z_-]{20,}"
    # An end user's JWT (its header is base64url JSON, so it starts with eyJ), signed or not.
    r"|\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
    # A browser token (auth/browser_tokens.py): bt_<payload>.<signature>.
    r"|\bbt_[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
)


#: What every match of ``_KEY_SHAPES`` contains, lower-cased: a line holding none of them cannot
#: match, so the regex (the costly part of a log line) runs only on the rare line that might.
_SHAPE_ANCHORS = ("bearer", "sk-", "rk-", "pk-", "aiza", "eyj", "bt_")
_REDACTED = "[REDACTED]"


class Redactor:
    """Replaces known secret values and key-shaped strings with ``[REDACTED]``.

    Cheap on a clean line, which is nearly every line: the known values are found with substring
    checks (grouped by their first characters, so a hundred provider keys sharing ``sk-`` cost one
    check), and the key-shape regex runs only when the line holds one of its anchors.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        found: set[str] = set()
        for secret in secrets:
            if secret and len(secret) >= 4:
                found.add(secret)
                # Lines are redacted after JSON encoding, where a quote or backslash is escaped.
                found.add(orjson.dumps(secret).decode()[1:-1])
        groups: dict[str, list[str]] = {}
        # Longest first, so a secret that contains another is removed whole.
        for value in sorted(found, key=len, reverse=True):
            groups.setdefault(value[:3], []).append(value)
        self._groups = tuple((prefix, tuple(values)) for prefix, values in groups.items())

    def __call__(self, text: str) -> str:
        for prefix, values in self._groups:
            if prefix in text:
                for value in values:
                    if value in text:
                        text = text.replace(value, _REDACTED)
        # A key chosen for the call being served (a user's own, a stored system key).
        for secret in call_secrets():
            for form in (secret, orjson.dumps(secret).decode()[1:-1]):
                if form in text:
                    text = text.replace(form, _REDACTED)
        lowered = text.lower()
        for anchor in _SHAPE_ANCHORS:
            if anchor in lowered:
                return _KEY_SHAPES.sub(_redact_match, text)
        return text


def _redact_match(match: re.Match[str]) -> str:
    prefix = match.group(1)
    return f"{prefix}{_REDACTED}" if prefix else _REDACTED


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the record's ``fields`` extra."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redact = redactor
        self._second: tuple[int, str] = (-1, "")

    def _timestamp(self, created: float) -> str:
        whole = int(created)
        second, text = self._second  # one tuple: threads that log see a matching pair
        if whole != second:  # one strftime a second, not one a line
            text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))
            self._second = (whole, text)
        return f"{text}.{int((created - whole) * 1000):03d}Z"

    def format(self, record: logging.LogRecord) -> str:
        exc = self.formatException(record.exc_info) if record.exc_info else None
        fields = getattr(record, "fields", None)
        return self.line(record.created, record.levelname, record.name, record.getMessage(), fields, exc)

    def line(
        self,
        created: float,
        level: str,
        logger: str,
        msg: str,
        fields: dict[str, Any] | None = None,
        exc: str | None = None,
    ) -> str:
        """The redacted JSON line of one entry (a record's parts, or :func:`log_fields`' own)."""
        entry: dict[str, Any] = {
            "ts": self._timestamp(created),
            "level": level.lower(),
            "logger": logger,
            "msg": msg,
        }
        if fields:
            entry.update(fields)
        if exc:
            entry["exc"] = exc
        return self._redact(orjson.dumps(entry, default=str).decode())


class _TextFormatter(logging.Formatter):
    def __init__(self, redactor: Redactor) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._redact = redactor

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = getattr(record, "fields", None)
        if fields:
            text += " " + orjson.dumps(fields, default=str).decode()
        return self._redact(text)


_writer: _LineWriter | None = None
#: The ``bastion`` logger and the handler configure_logging gave it, when it writes JSON lines.
_direct: tuple[logging.Logger, _FormattingQueueHandler] | None = None


def configure_logging(
    *, level: str = "info", json_logs: bool = True, secrets: Iterable[str] = (), stream: Any = None
) -> None:
    """Route the ``bastion`` and ``uvicorn`` loggers through one redacting, queued handler."""
    global _writer, _direct
    shutdown_logging()
    redactor = Redactor(secrets)
    formatter = JsonFormatter(redactor) if json_logs else _TextFormatter(redactor)
    lines: queue.SimpleQueue[str | None] = queue.SimpleQueue()
    _writer = _LineWriter(lines, stream if stream is not None else sys.stderr)
    handler = _FormattingQueueHandler(lines, formatter)
    for name in ("bastion", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
    _direct = (logging.getLogger("bastion"), handler) if json_logs else None
    # Access logs duplicate our per-request line and cost time on the hot path.
    logging.getLogger("uvicorn.access").disabled = True


def shutdown_logging() -> None:
    """Write the queued lines and stop the writer thread."""
    global _writer, _direct
    _direct = None
    if _writer is not None:
        _writer.stop()
        _writer = None


def request_logger() -> logging.Logger:
    return logging.getLogger("bastion.request")


def log_fields(logger: logging.Logger, msg: str, fields: dict[str, Any]) -> None:
    """One INFO line carrying ``fields`` (the per-request line), from the event loop's thread.

    When ``logger`` writes only through the handler :func:`configure_logging` gave the ``bastion``
    logger (the usual case), the line is formatted and queued directly, without a ``LogRecord``,
    the handler's lock or the logging module's dispatch (3 us a line instead of 8). Anything else (a
    handler a test or an embedding application added, filters, text logs) takes the logging
    module's path, so the line reaches every handler as before."""
    direct = _direct
    if (
        direct is not None
        and logger.parent is direct[0]
        and not logger.handlers
        and not logger.filters
        and logger.propagate
        and not direct[0].filters
        and direct[0].handlers == [direct[1]]
        and not direct[1].filters
    ):
        direct[1].emit_line(time.time(), "INFO", logger.name, msg, fields)
    else:
        logger.info(msg, extra={"fields": fields})


class _FormattingQueueHandler(logging.Handler):
    """Formats (and so redacts) on the caller's side, then hands the line to the writer thread."""

    def __init__(self, lines: queue.SimpleQueue[str | None], formatter: logging.Formatter) -> None:
        super().__init__()
        self._lines = lines
        self._format = formatter.format
        self._formatter = formatter

    def emit_line(self, created: float, level: str, logger: str, msg: str, fields: dict[str, Any]) -> None:
        """Queue one JSON line built from its parts (:func:`log_fields`); never raises."""
        formatter = self._formatter
        try:
            assert isinstance(formatter, JsonFormatter)
            self._lines.put_nowait(formatter.line(created, level, logger, msg, fields))
        except Exception:
            logging.getLogger("bastion.logging").debug("dropped a log line", exc_info=True)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._lines.put_nowait(self._format(record))
        except Exception:
            self.handleError(record)


class _LineWriter:
    """The thread that writes log lines: whatever has queued up goes out in one write and flush.

    Once a line arrives the thread waits ``window`` seconds before it writes, so the lines of a busy
    second go out in a few writes, not one each: a thread woken per line costs the event loop a
    wake-up and a hand-over of the GIL on every request (about a tenth of a request's CPU at
    concurrency 1). While it waits, queueing a line wakes nobody. Stopping writes everything at once.
    """

    _BATCH = 4096

    def __init__(self, lines: queue.SimpleQueue[str | None], stream: Any, window: float = 0.02) -> None:
        self._lines = lines
        self._stream = stream
        self._window = window
        self._thread = threading.Thread(target=self._run, name="bastion-log-writer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._lines.put(None)
        self._thread.join()

    def _run(self) -> None:
        lines = self._lines
        while True:
            batch = [lines.get()]
            if batch[0] is not None:
                time.sleep(self._window)  # noqa: TID251  # the writer thread, not the loop: a write budget
            while len(batch) < self._BATCH:
                try:
                    batch.append(lines.get_nowait())
                except queue.Empty:
                    break
            done = None in batch
            text = "".join(line + "\n" for line in batch if line is not None)
            if text:
                try:
                    self._stream.write(text)
                    self._stream.flush()
                except Exception:  # a closed pipe must not kill the writer thread
                    pass
            if done:
                return
