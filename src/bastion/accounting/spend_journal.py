"""An append-only local journal of spend rows: a killed process loses no answered request's row.

Every row is appended when its request is recorded, which is before the answer's last byte is
sent. A segment is a file preallocated with ``posix_fallocate`` and written through a shared memory
mapping: an append is a copy into the operating system's page cache, with no system call and
without releasing the GIL (a ``write(2)`` per request cost ~40 µs of kernel time and thread
switches in a busy gateway). From then on the row survives SIGKILL, an OOM kill or a crash of the
process (not a crash of the machine itself, which is what a replica of the database is for); a full
disk is reported when a segment is allocated, never as a fault while writing.

The spend writer seals the current segment before each batch and deletes it once the database has
every row in it; at the next start, the segments a dead process left behind are adopted and
replayed (the insert is idempotent on ``request_id``).

No system call of the journal's runs on the request path in the steady state: the file work
(closing a sealed segment, deleting a written one, creating the next one) is done by
:meth:`SpendJournal.upkeep` in a worker thread, and the next segment is created there ahead of
time with its pages already backed and writable, so an append never waits on a page fault. On a
virtual machine a fresh page's first write costs tens of microseconds to a millisecond (the host
backs the guest's memory on first touch), and a segment's first write, with its creation, about
a millisecond: a request's worth of latency on every seal, and on every sixth request or so.

Layout, in ``<data_dir>/spend-journal/``::

    <owner>.lock          held (flock) by the live process <owner> = "<pid>-<random>"
    <owner>/00000001.jsonl  its segments: JSON lines, oldest first (a segment a killed process
                            was writing ends with the zeros of its preallocation)
    rejected.jsonl        originals of rows the database refused (see spend_writer), and lines
                            cut by a kill mid-copy

Each process (``--workers N``, or several gateways sharing a data directory on one host) has its own
owner directory. An owner whose lock can be taken is gone: its segments are moved into the adopter's
own directory (a rename) while the adopter holds its lock, so one adopter wins. The lock is taken
before the directory exists, so a starting process is never mistaken for a dead one. The data
directory must be on a local file system (``flock`` over NFS is not reliable).
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import mmap
import os
import secrets
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import orjson

from bastion.accounting.spend_rows import sanitize_row

__all__ = ["JOURNAL_DIR", "SEGMENT_BYTES", "SpendJournal", "read_segment", "write_rows"]

_log = logging.getLogger("bastion.spend")

#: The journal's directory inside the data directory.
JOURNAL_DIR = "spend-journal"
#: Room preallocated for a segment: about 6,000 rows; the writer seals one about every second.
SEGMENT_BYTES = 4 * 1024 * 1024
#: How much of a new segment is made resident ahead of time: about 1,700 rows, more than a
#: second's worth at concurrency 1; past it, pages are backed as rows reach them. (Resident pages
#: count in the process's RSS.)
PREFAULT_BYTES = 1024 * 1024
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
        self._active: _Segment | None = None
        #: The next segment, created and pre-faulted by :meth:`upkeep` (None until it has run).
        self._spare: _Segment | None = None
        #: Segments sealed or filled up and not yet closed (unmapped and cut to their rows).
        self._unclosed: list[_Segment] = []
        #: Segments filled up and closed since the last seal.
        self._rotated: list[Path] = []
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
        """Close the segments; remove the directory and lock when nothing is left in them."""
        segment, self._active = self._active, None
        spare, self._spare = self._spare, None
        unclosed, self._unclosed = self._unclosed, []
        for each in (*unclosed, *([segment] if segment is not None else []), *([spare] if spare else [])):
            each.close()
            if not each.rows:
                each.path.unlink(missing_ok=True)
        self._rotated = []
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
        """Copy one row into the active segment; never raises."""
        if not self.durable:
            return
        try:
            line = _line(row)
            segment = self._active
            if segment is None or not segment.fits(len(line)):
                segment = self._next_segment(len(line))
            segment.write(line)
        except (OSError, TypeError, ValueError) as exc:  # TypeError: a row even cleaning cannot encode
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

    def seal(self) -> list[Path]:
        """End the segments holding rows (the next append takes a new one) and return them. They
        are closed by the next :meth:`upkeep` or :meth:`close`; until then each is a segment a
        killed process could have left (rows, then the zeros of its preallocation)."""
        sealed, self._rotated = self._rotated, []
        segment = self._active
        if segment is not None and segment.rows:
            self._active = None
            self._unclosed.append(segment)
            sealed.append(segment.path)
        return sealed

    async def upkeep(self, remove: Sequence[Path] = ()) -> None:
        """The journal's file work, in a worker thread: close the segments sealed since the last
        call, delete ``remove`` (segments the database has), and create and pre-fault the next
        segment if none is waiting. One call at a time (the spend writer's flush lock). Each of
        these can block for milliseconds when the disk is busy (py-spy of two workers at c=64 once
        found an event loop blocked a third of a second in ``unlink`` over eight seconds)."""
        unclosed, self._unclosed = self._unclosed, []
        spare = None
        if self.durable and self._spare is None and self._lock_fd is not None:
            spare = self._next_path()
        made = await asyncio.to_thread(_upkeep, unclosed, list(remove), spare)
        if made is not None:
            if self._spare is None and self._lock_fd is not None:
                self._spare = made
            else:  # the journal was closed meanwhile
                made.close()
                made.path.unlink(missing_ok=True)

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
        writing = {
            *self._rotated,
            *(s.path for s in (self._active, self._spare, *self._unclosed) if s is not None),
        }
        found = [p for p in self.directory.glob("*" + _SUFFIX) if p not in writing]
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

    def _next_segment(self, needed: int) -> _Segment:
        """End the active segment (full) and take the next, large enough for ``needed`` bytes: the
        one :meth:`upkeep` made, or a new one."""
        self.open()
        full, self._active = self._active, None
        if full is not None:
            if full.rows:
                self._unclosed.append(full)
                self._rotated.append(full.path)
            else:
                full.close()
                full.path.unlink(missing_ok=True)
        spare, self._spare = self._spare, None
        if spare is not None and spare.size >= needed:
            self._active = spare
        else:
            if spare is not None:
                self._unclosed.append(spare)  # empty: closed and deleted by the next upkeep
            self._active = _Segment(self._next_path(), max(SEGMENT_BYTES, needed))
        return self._active

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


class _Segment:
    """The segment being appended to: a preallocated file written through a shared mapping."""

    __slots__ = ("_fd", "_map", "offset", "path", "rows", "size")

    def __init__(self, path: Path, size: int) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            # Blocks are allocated now: a full disk fails here, never as SIGBUS on a later copy.
            os.posix_fallocate(fd, 0, size)
            self._map = mmap.mmap(fd, size)
        except BaseException:
            os.close(fd)
            path.unlink(missing_ok=True)
            raise
        self._fd = fd
        self.path = path
        self.size = size
        self.offset = 0
        self.rows = 0

    def fits(self, length: int) -> bool:
        return self.offset + length <= self.size

    def prefault(self, size: int) -> None:
        """Make the first ``size`` bytes of the mapping present and writable now (a read from
        ``/dev/zero`` into it: the kernel writes the zeros, without the GIL), so appends there
        never fault."""
        try:
            zero = os.open("/dev/zero", os.O_RDONLY)
        except OSError:
            return
        end = min(size, self.size)
        try:
            with memoryview(self._map) as view:
                done = 0
                while done < end:
                    with view[done:end] as rest:
                        read = os.readv(zero, [rest])
                    if read <= 0:
                        break
                    done += read
        except OSError:
            pass
        finally:
            os.close(zero)

    def write(self, line: bytes) -> None:
        end = self.offset + len(line)
        self._map[self.offset : end] = line
        self.offset = end
        self.rows += 1

    def close(self) -> None:
        """Unmap it and cut the file to its rows (the preallocated rest is given back)."""
        self._map.close()
        try:
            os.ftruncate(self._fd, self.offset)
        finally:
            os.close(self._fd)


def _upkeep(unclosed: list[_Segment], remove: list[Path], spare: Path | None) -> _Segment | None:
    """:meth:`SpendJournal.upkeep`'s work, in a worker thread; returns the new segment."""
    for segment in unclosed:
        with contextlib.suppress(OSError):
            segment.close()
            if not segment.rows:
                segment.path.unlink(missing_ok=True)
    for path in remove:
        path.unlink(missing_ok=True)
    if spare is None:
        return None
    try:
        made = _Segment(spare, SEGMENT_BYTES)
    except OSError:
        return None  # the next append makes one, and reports a full disk
    made.prefault(PREFAULT_BYTES)
    return made


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
    # The zeros after the last row of a segment whose process was killed while writing it.
    for line in path.read_bytes().rstrip(b"\0").splitlines():
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
