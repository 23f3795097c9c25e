"""JSON logging that never blocks the event loop and never prints a secret.

Records are formatted on the calling thread (cheap, orjson) and written by a background thread
through a :class:`logging.handlers.QueueHandler`, so a slow terminal or pipe cannot stall requests.
Every line passes through :class:`Redactor`, which removes the configured secret values and
anything shaped like a key or a bearer token.
"""

from __future__ import annotations

import logging
import logging.handlers
import queue
import re
import sys
import time
from collections.abc import Iterable
from typing import Any

import orjson

__all__ = ["JsonFormatter", "Redactor", "configure_logging", "request_logger", "shutdown_logging"]

_KEY_SHAPES = re.compile(
    r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"
    r"|\b(sk|am_sk|rk|pk)-[A-Za-z0-9_-]{6,}"
    r"|\bAIza[0-9A-Za-z_-]{20,}"
    # An end user's JWT (its header is base64url JSON, so it starts with eyJ), signed or not.
    r"|\beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"
)


class Redactor:
    """Replaces known secret values and key-shaped strings with ``[REDACTED]``."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        found: set[str] = set()
        for secret in secrets:
            if secret and len(secret) >= 4:
                found.add(secret)
                # Lines are redacted after JSON encoding, where a quote or backslash is escaped.
                found.add(orjson.dumps(secret).decode()[1:-1])
        values = sorted(found, key=len, reverse=True)
        self._literal = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def __call__(self, text: str) -> str:
        if self._literal is not None:
            text = self._literal.sub("[REDACTED]", text)
        return _KEY_SHAPES.sub(_redact_match, text)


def _redact_match(match: re.Match[str]) -> str:
    prefix = match.group(1)
    return f"{prefix}[REDACTED]" if prefix else "[REDACTED]"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and the record's ``fields`` extra."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redact = redactor

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
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


_listener: logging.handlers.QueueListener | None = None


def configure_logging(
    *, level: str = "info", json_logs: bool = True, secrets: Iterable[str] = (), stream: Any = None
) -> None:
    """Route the ``bastion`` and ``uvicorn`` loggers through one redacting, queued handler."""
    global _listener
    shutdown_logging()
    redactor = Redactor(secrets)
    target = logging.StreamHandler(stream if stream is not None else sys.stderr)
    target.setFormatter(JsonFormatter(redactor) if json_logs else _TextFormatter(redactor))
    log_queue: queue.SimpleQueue[logging.LogRecord] = queue.SimpleQueue()
    handler = _FormattingQueueHandler(log_queue, target.formatter)
    _listener = logging.handlers.QueueListener(log_queue, _PreformattedHandler(target))
    _listener.start()
    for name in ("bastion", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
    # Access logs duplicate our per-request line and cost time on the hot path.
    logging.getLogger("uvicorn.access").disabled = True


def shutdown_logging() -> None:
    """Flush queued lines and stop the writer thread."""
    global _listener
    if _listener is not None:
        _listener.stop()
        _listener = None


def request_logger() -> logging.Logger:
    return logging.getLogger("bastion.request")


class _FormattingQueueHandler(logging.handlers.QueueHandler):
    """Formats (and so redacts) on the caller's side, then hands a plain string to the writer thread."""

    def __init__(self, q: queue.SimpleQueue[logging.LogRecord], formatter: logging.Formatter | None) -> None:
        super().__init__(q)
        self._fmt = formatter or logging.Formatter()

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        line = self._fmt.format(record)
        out = logging.makeLogRecord({"msg": line, "levelno": record.levelno, "levelname": record.levelname})
        return out


class _PreformattedHandler(logging.Handler):
    def __init__(self, target: logging.StreamHandler[Any]) -> None:
        super().__init__()
        self._target = target

    def emit(self, record: logging.LogRecord) -> None:
        stream = self._target.stream
        try:
            stream.write(record.msg + "\n")
            stream.flush()
        except Exception:  # a closed pipe must not kill the writer thread
            self.handleError(record)
