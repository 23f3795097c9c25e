"""What the mock upstream records and the faults a test scripts into it.

Shared between the server thread (which records requests and consumes faults) and the test thread
(which scripts faults and reads the record), so every access goes through one lock.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import asdict, dataclass, fields
from typing import Any

__all__ = ["Fault", "RecordedRequest", "Script", "fault_from_json", "recorded_to_json"]


@dataclass
class Fault:
    """One scripted misbehaviour, consumed by one request.

    ``status`` answers that HTTP status with the protocol's error envelope. ``delay`` holds back the
    response headers; ``first_token_delay`` holds back the first body byte of a stream after its
    headers. ``drop_after`` closes the TCP connection abruptly after that many token frames (on a
    non-streaming request: before any answer). ``error_after`` sends the protocol's in-band error
    event after that many token frames and ends the stream. ``hang`` never answers, until the client
    disconnects or the mock stops.
    """

    status: int | None = None
    message: str = "mock failure"
    retry_after: float | None = None
    delay: float = 0.0
    first_token_delay: float = 0.0
    drop_after: int | None = None
    error_after: int | None = None
    hang: bool = False


@dataclass
class RecordedRequest:
    """One request as the mock received it; ``body`` is parsed JSON, or the raw bytes if not JSON."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


_FAULT_FIELDS = frozenset(f.name for f in fields(Fault))


def fault_from_json(obj: object) -> Fault:
    """Build a :class:`Fault` from a JSON object; unknown keys raise ``ValueError``."""
    if not isinstance(obj, dict):
        raise ValueError("a fault must be a JSON object")
    unknown = set(obj) - _FAULT_FIELDS
    if unknown:
        raise ValueError(f"unknown fault fields: {sorted(unknown)}")
    return Fault(**obj)


def recorded_to_json(request: RecordedRequest) -> dict[str, Any]:
    """A JSON-ready view of a recorded request (a raw body becomes text)."""
    view = asdict(request)
    if isinstance(request.body, bytes):
        view["body"] = request.body.decode("utf-8", "replace")
    return view


class Script:
    """The record of requests and the fault queues, safe to touch from any thread."""

    __slots__ = ("_by_model", "_lock", "_queue", "_record", "_requests")

    def __init__(self, *, record: bool = True) -> None:
        self._lock = threading.Lock()
        self._record = record
        self._requests: list[RecordedRequest] = []
        self._queue: deque[Fault] = deque()
        self._by_model: dict[str, deque[Fault]] = {}

    def add(self, faults: tuple[Fault, ...], model: str | None = None) -> None:
        """Queue ``faults`` (FIFO), for every request or only for requests for ``model``."""
        with self._lock:
            if model is None:
                self._queue.extend(faults)
            else:
                self._by_model.setdefault(model, deque()).extend(faults)

    def take(self, model: str | None) -> Fault | None:
        """The fault the next request for ``model`` consumes: its own queue first, then the shared one."""
        if not self._queue and not self._by_model:
            return None  # the common unscripted case needs no lock
        with self._lock:
            if model is not None:
                own = self._by_model.get(model)
                if own:
                    fault = own.popleft()
                    if not own:
                        del self._by_model[model]
                    return fault
            return self._queue.popleft() if self._queue else None

    def record(self, request: RecordedRequest) -> None:
        """Append ``request`` to the record (unless recording is off)."""
        if self._record:
            with self._lock:
                self._requests.append(request)

    def requests(self) -> list[RecordedRequest]:
        """A copy of the record, oldest first."""
        with self._lock:
            return list(self._requests)

    def reset(self) -> None:
        """Forget the record and every queued fault."""
        with self._lock:
            self._requests.clear()
            self._queue.clear()
            self._by_model.clear()
