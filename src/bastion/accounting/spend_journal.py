"""An append-only local journal of spend rows: a killed process loses no answered request's row.

Every row is appended (one ``write(2)``, no fsync) when its request is recorded, which is before the
answer's last byte is sent. Once ``write`` returns the row is in the operating system's page cache:
it survives SIGKILL, an OOM kill or a crash of the process (not a crash of the machine itself, which
is what a replica of the database is for). The spend writer seals the current segment before each
batch and deletes it once the database has every row in it; at the next start, the segments a dead
process left behind are adopted and replayed (the insert is idempotent on ``request_id``).

Layout, in ``<data_dir>/spend-journal/``::

    <owner>.lock          held (flock) by the live process <owner> = "<pid>-<random>"
    <owner>/00000001.jsonl  its segments: JSON lines, oldest first
    rejected.jsonl        rows the database refused even in reduced form (see spend_writer)

Each process (``--workers N``, or several gateways sharing a data directory on one host) has its own
owner directory. An owner whose lock can be taken is gone: its segments are moved into the adopter's
own directory (a rename) while the adopter holds its lock, so one adopter wins. The lock is taken
before the directory exists, so a starting process is never mistaken for a dead one. The data
directory must be on a local file system (``flock`` over NFS is not reliable).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from bastion.accounting.spend_rows import sanitize_row

__all__ = ["JOURNAL_DIR", "SpendJournal", "read_segment", "write_rows"]

_log = logging.getLogger("bastion.spend")

#: The journal's directory inside the data directory.
JOURNAL_DIR = "spend-journal"
_SUFFIX = ".jsonl"
_LOCK = ".lock"
#: Spool files of Bastion versions before the journal (one per process id), adopted the same way.
_LEGACY_SPOOL = "bastion-spend-spool-"

Row = dict[str, Any]


class SpendJournal:
    """This process's journal. ``append`` on the request path; the rest from the spend writer."""

    def __init__(self, data_dir: Path, *, durable: bool = True) -> None:
        """``durable=False`` appends nothing (rows live only in memory until written); segments are
        still written when the database is down, as a spool. Only to measure what the journal costs."""
        self.root = data_dir / JOURNAL_DIR
        self.durable = durable
        self.owner = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.directory = self.root / self.owner
        self.rejected = self.root / "rejected.jsonl"
        self._legacy_dir = data_dir
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self._segment: Path | None = None
        self._rows_in_segment = 0
        self._seq = 0
        #: Appends that failed (disk full...); the rows stay in memory and are still written.
        self.failures = 0

    # ------------------------------------------------------------------ life cycle

    def open(self) -> None:
        """Take this process's lock and create its directory (lock first: see the module doc)."""
        if self._lock_fd is not None:
            return
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.root / (self.owner + _LOCK), os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        self._lock_fd = fd
        self.directory.mkdir(exist_ok=True)

    def close(self) -> None:
        """Close the active segment; remove the directory and lock when nothing is left in them."""
        self._close_segment(keep_empty=False)
        if self._lock_fd is None:
            return
        try:
            self.directory.rmdir()  # only when empty: segments still unwritten stay for the next start
            (self.root / (self.owner + _LOCK)).unlink(missing_ok=True)
        except OSError:
            pass
        os.close(self._lock_fd)
        self._lock_fd = None

    # ------------------------------------------------------------------ request path

    def append(self, row: Row) -> None:
        """Write one row to the active segment (one ``write(2)``); never raises."""
        if not self.durable:
            return
        try:
            line = _line(row)
            fd = self._fd if self._fd is not None else self._open_segment()
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view) :]
            self._rows_in_segment += 1
        except (OSError, TypeError) as exc:  # TypeError: a row even cleaning cannot encode
            self.failures += 1
            if self.failures == 1 or self.failures % 1000 == 0:
                _log.error(
                    "could not append to the spend journal in %s (%s); %d rows so far are only in "
                    "memory until the database has them",
                    self.directory,
                    exc,
                    self.failures,
                )

    # ------------------------------------------------------------------ spend writer

    def seal(self) -> Path | None:
        """Close the active segment and return it (the next append opens a new one); ``None`` when
        it holds no row."""
        if self._rows_in_segment == 0:
            return None
        return self._close_segment(keep_empty=True)

    def spill(self, rows: list[Row]) -> Path | None:
        """Write ``rows`` (which are only in memory) to a new segment and fsync it: a spool."""
        if not rows:
            return None
        self.open()
        path = self._next_path()
        write_rows(path, rows)
        return path

    def adopt(self) -> list[Path]:
        """Move the segments of dead owners (and old spool files) into this process's directory;
        returns every segment found there that is not the active one, oldest first (none when the
        data directory cannot be written: that is logged, and serving goes on)."""
        try:
            self.open()
        except OSError as exc:
            self.failures += 1
            if self.failures == 1:
                _log.error("the spend journal cannot be opened in %s (%s)", self.directory, exc)
            return []
        for lock in self.root.glob("*" + _LOCK):
            owner = lock.name[: -len(_LOCK)]
            if owner != self.owner:
                self._adopt_owner(owner, lock)
        self._adopt_legacy()
        found = [p for p in self.directory.glob("*" + _SUFFIX) if p != self._segment]
        return sorted(found, key=_age)

    def set_aside(self, rows: Iterable[Row | bytes]) -> None:
        """Keep rows nothing will write (JSON lines, or the raw bytes of an unreadable line)."""
        lines = [r + b"\n" if isinstance(r, bytes) else _line(r) for r in rows]
        if lines:
            self.root.mkdir(parents=True, exist_ok=True)
            with self.rejected.open("ab") as out:
                out.write(b"".join(lines))
                out.flush()
                os.fsync(out.fileno())

    # ------------------------------------------------------------------ internals

    def _open_segment(self) -> int:
        self.open()
        path = self._next_path()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._fd, self._segment, self._rows_in_segment = fd, path, 0
        return fd

    def _close_segment(self, *, keep_empty: bool) -> Path | None:
        fd, path, rows = self._fd, self._segment, self._rows_in_segment
        self._fd, self._segment, self._rows_in_segment = None, None, 0
        if fd is not None:
            os.close(fd)
        if path is not None and rows == 0 and not keep_empty:
            path.unlink(missing_ok=True)
            return None
        return path

    def _next_path(self) -> Path:
        self._seq += 1
        return self.directory / f"{self._seq:08d}{_SUFFIX}"

    def _adopt_owner(self, owner: str, lock: Path) -> None:
        try:
            fd = os.open(lock, os.O_RDWR)
        except FileNotFoundError:
            return  # adopted meanwhile
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return  # alive
            source = self.root / owner
            moved = 0
            for segment in sorted(source.glob("*" + _SUFFIX)) if source.is_dir() else ():
                segment.rename(self.directory / f"a-{owner}-{segment.name}")
                moved += 1
            with contextlib.suppress(OSError):
                source.rmdir()
            lock.unlink(missing_ok=True)
            if moved:
                _log.info("adopted %d spend journal segments of a gateway process that is gone", moved)
        finally:
            os.close(fd)

    def _adopt_legacy(self) -> None:
        for path in self._legacy_dir.glob(_LEGACY_SPOOL + "*" + _SUFFIX):
            pid = path.name[len(_LEGACY_SPOOL) : -len(_SUFFIX)]
            if not pid.isdigit() or _alive(int(pid)):
                continue  # rejected or adopting files of the old layout, or a live process
            with contextlib.suppress(OSError):  # another process took it
                path.rename(self.directory / f"a-spool-{pid}{_SUFFIX}")


def write_rows(path: Path, rows: list[Row]) -> None:
    """Write ``rows`` as JSON lines to ``path`` and fsync it (the directory too)."""
    data = b"".join(_line(row) for row in rows)
    with path.open("ab") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    _fsync_directory(path.parent)


def _line(row: Row) -> bytes:
    try:
        return orjson.dumps(row) + b"\n"
    except TypeError:  # a value orjson will not encode (a lone surrogate...): the cleaned row
        return orjson.dumps(sanitize_row(row), default=str) + b"\n"


def read_segment(path: Path) -> tuple[list[Row], list[bytes]]:
    """The rows of a segment, and the lines that do not parse (a line cut by a kill mid-write)."""
    rows: list[Row] = []
    bad: list[bytes] = []
    for line in path.read_bytes().splitlines():
        if not line.strip():
            continue
        try:
            row = orjson.loads(line)
        except orjson.JSONDecodeError:
            bad.append(line)
            continue
        if isinstance(row, dict) and isinstance(row.get("request_id"), str):
            rows.append(row)
        else:
            bad.append(line)
    return rows, bad


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _age(path: Path) -> tuple[float, str]:
    try:
        return path.stat().st_mtime, path.name
    except OSError:
        return 0.0, path.name


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's
    return True
