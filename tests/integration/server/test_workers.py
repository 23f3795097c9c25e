"""``bastion serve --workers 2``: a supervisor that imports none of the gateway, workers on one
port that it restarts, and workers that do not outlive it."""

from __future__ import annotations

import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.serve import free_port

ROOT = Path(__file__).resolve().parents[3]
BASTION = str(Path(sys.executable).with_name("bastion"))
READY = "accepting connections on"


class Workers:
    def __init__(self) -> None:
        self.port = free_port()
        self.data_dir = Path(tempfile.mkdtemp(prefix="bastion-workers-"))
        env = dict(os.environ, BASTION_DATA_DIR=str(self.data_dir))
        self.proc = subprocess.Popen(
            [BASTION, "serve", "--config", "examples/demo.yaml", "--port", str(self.port), "--workers", "2"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[str] = []

    def wait_for(self, text: str, count: int) -> None:
        """Read the log until ``text`` appeared ``count`` times in all (a log line, not a sleep)."""
        assert self.proc.stderr is not None
        while sum(text in line for line in self.lines) < count:
            line = self.proc.stderr.readline()
            if not line:
                raise AssertionError("bastion serve ended:\n" + "".join(self.lines))
            self.lines.append(line)

    def workers(self) -> list[int]:
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def chat(self) -> dict[str, object]:
        return self.answered()[1]

    def answered(self) -> tuple[str, dict[str, object]]:
        """One chat call (a new connection each, so the kernel spreads them over the workers):
        its request id and its answer."""
        body = json.dumps({"model": "mock-gpt", "messages": [{"role": "user", "content": "hi"}]}).encode()
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/v1/chat/completions",
            data=body,
            headers={"authorization": "Bearer sk-bastion-demo", "content-type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.headers["x-request-id"], json.loads(response.read())


def wait_gone(pid: int) -> None:
    """Wait for a process that is not our child to end (its pidfd becomes readable)."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    try:
        readable, _, _ = select.select([fd], [], [], 30)
        assert readable, f"process {pid} still running"
    finally:
        os.close(fd)


@pytest.fixture
def workers() -> Iterator[Workers]:
    running = Workers()
    try:
        running.wait_for(READY, 2)
        yield running
    finally:
        for pid in running.workers() if running.proc.poll() is None else []:
            os.kill(pid, signal.SIGKILL)
        running.proc.kill()
        running.proc.wait(timeout=10)


def test_the_supervisor_stops_its_workers_gracefully(workers: Workers) -> None:
    """On SIGTERM both workers stop gracefully and the supervisor exits 0. (Its memory, under
    25 MiB, is measured by ``python -m bench --servers`` and ``bench.startup``.)"""
    assert workers.chat()["object"] == "chat.completion"
    assert len(workers.workers()) == 2
    workers.proc.send_signal(signal.SIGTERM)
    assert workers.proc.wait(timeout=60) == 0
    workers.wait_for("shutdown complete", 2)


def test_metrics_count_every_workers_requests(workers: Workers) -> None:
    """/metrics, answered by either worker, counts the requests of both: each worker files its
    values under its own process id (read once at its start: metrics.pin_process_id)."""
    for _ in range(20):
        assert workers.chat()["object"] == "chat.completion"

    def counted() -> tuple[float, str]:
        with urllib.request.urlopen(f"http://127.0.0.1:{workers.port}/metrics", timeout=10) as response:
            text = response.read().decode()
        total = sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("bastion_requests_total{")
        )
        return total, text

    # A worker counts a request one turn of its event loop after answering it, so the other worker
    # may serve /metrics before the last count lands: read again (each read is a request, no sleep)
    # until all 20 are there, and never more.
    deadline = time.monotonic() + 10
    total, text = counted()
    while total < 20 and time.monotonic() < deadline:
        total, text = counted()
    assert total == 20, text
    pids = workers.workers()
    environ = Path(f"/proc/{pids[0]}/environ").read_bytes().split(b"\0")
    directory = Path(
        next(v for v in environ if v.startswith(b"PROMETHEUS_MULTIPROC_DIR=")).split(b"=", 1)[1].decode()
    )
    assert {p.name for p in directory.glob("counter_*.db")} <= {f"counter_{pid}.db" for pid in pids}
    assert list(directory.glob("counter_*.db")), sorted(directory.iterdir())


def test_a_dead_worker_is_replaced(workers: Workers) -> None:
    """A worker killed with SIGKILL is started again; the port answers meanwhile and after."""
    first = workers.workers()
    os.kill(first[0], signal.SIGKILL)
    wait_gone(first[0])  # (a connection queued on the dying worker's socket would be reset)
    assert workers.chat()["object"] == "chat.completion"  # the other worker answers
    workers.wait_for(READY, 3)
    assert first[0] not in workers.workers() and len(workers.workers()) == 2
    assert workers.chat()["object"] == "chat.completion"


def test_workers_stop_when_the_supervisor_is_killed(workers: Workers) -> None:
    """SIGKILL on the supervisor leaves no worker behind: each sees its pipe close and stops."""
    pids = workers.workers()
    workers.proc.kill()
    workers.proc.wait(timeout=10)
    for pid in pids:
        wait_gone(pid)


def test_sighup_replaces_every_worker_one_at_a_time(workers: Workers) -> None:
    """SIGHUP stops each worker in turn and starts a new one in its place, which then serves."""
    before = set(workers.workers())
    workers.proc.send_signal(signal.SIGHUP)
    workers.wait_for(READY, 4)
    for pid in before:
        wait_gone(pid)
    after = set(workers.workers())
    assert len(after) == 2 and not after & before
    assert workers.chat()["object"] == "chat.completion"


def test_every_answered_request_has_one_spend_row_after_a_worker_is_killed(workers: Workers) -> None:
    """The workers share one data directory, each with its own part of the spend journal. A worker
    killed with SIGKILL right after answering (its last second's rows are then only in its journal)
    is replaced; its rows are adopted and written, and after SIGTERM every answered request has
    exactly one row and no journal segment or lock is left."""
    answered = [workers.answered()[0] for _ in range(30)]
    victim = workers.workers()[0]
    os.kill(victim, signal.SIGKILL)
    wait_gone(victim)
    workers.wait_for(READY, 3)  # its replacement started (and adopted what it left)
    answered += [workers.answered()[0] for _ in range(10)]
    workers.proc.send_signal(signal.SIGTERM)
    assert workers.proc.wait(timeout=60) == 0
    with sqlite3.connect(workers.data_dir / "bastion.db") as db:
        rows = [rid for (rid,) in db.execute("SELECT request_id FROM spend_logs")]
    assert sorted(rows) == sorted(answered)
    journal = workers.data_dir / "spend-journal"
    assert not list(journal.rglob("*.jsonl")) and not list(journal.glob("*.lock"))


#: What the supervisor must never import: the gateway (its modules and the libraries they load).
_NOT_IN_SUPERVISOR = (
    "bastion.accounting",
    "bastion.accounts",
    "bastion.administration",
    "bastion.api",
    "bastion.app",
    "bastion.gateway",
    "bastion.settings",
    "bastion.store",
    "bastion.web",
    "httptools",
    "prometheus_client",
    "sqlalchemy",
    "uvloop",
    "yaml",
)

_SUPERVISE = """
import atexit, sys
def report():
    sys.stdout.write("LOADED " + ",".join(sorted(sys.modules)) + "\\n")
    sys.stdout.flush()
atexit.register(report)
from bastion.server.supervisor import main
sys.exit(main(sys.argv[1:]))
"""


def test_the_supervisor_imports_none_of_the_gateway(tmp_path: Path) -> None:
    """The supervisor process, through a worker's start and its stop, loads no module of the gateway
    (which is what keeps it small): its modules are listed at its exit."""
    env = dict(os.environ, BASTION_DATA_DIR=str(tmp_path))
    config = ["--config", "examples/demo.yaml"]
    subprocess.run([BASTION, "migrate", *config], cwd=ROOT, env=env, capture_output=True, check=True)
    argv = [sys.executable, "-c", _SUPERVISE, "--workers", "1", "--host", "127.0.0.1"]
    argv += ["--port", str(free_port()), *config]
    proc = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert proc.stderr is not None
        seen: list[str] = []
        while not any(READY in line for line in seen):
            line = proc.stderr.readline()
            assert line, "the supervisor ended:\n" + "".join(seen)
            seen.append(line)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert proc.returncode == 0
    loaded = next(line for line in out.splitlines() if line.startswith("LOADED ")).split(" ", 1)[1].split(",")
    assert "bastion.server.supervisor" in loaded
    assert [n for n in loaded if n.startswith(_NOT_IN_SUPERVISOR)] == []
