"""The task supervisor: jobs drained, services stopped, failures logged once, nothing left behind."""

from __future__ import annotations

import asyncio
import logging

import pytest

from bastion import tasks
from bastion.tasks import TaskSet, TaskSupervisor


def test_drain_waits_for_jobs_and_for_jobs_they_spawn() -> None:
    """ "Drain then return": a job that starts another job is waited for too."""
    done: list[str] = []

    async def second() -> None:
        await asyncio.sleep(0)
        done.append("second")

    async def first() -> None:
        await asyncio.sleep(0)
        tasks.spawn(second(), name="second")
        done.append("first")

    async def scenario() -> int:
        tasks.spawn(first(), name="first")
        assert await tasks.drain() is True
        return tasks.current().pending

    assert asyncio.run(scenario()) == 0
    assert done == ["first", "second"]


def test_drain_with_a_timeout_says_when_a_job_is_still_running() -> None:
    async def scenario() -> tuple[bool, list[str]]:
        gate = asyncio.Event()
        supervisor = tasks.current()
        supervisor.spawn(gate.wait(), name="stuck")
        drained = await supervisor.drain(timeout=0)
        running = supervisor.running()
        gate.set()
        await supervisor.drain()
        return drained, running

    assert asyncio.run(scenario()) == (False, ["stuck"])


def test_a_failed_job_or_service_is_logged_with_its_name(caplog: pytest.LogCaptureFixture) -> None:
    async def fail(what: str) -> None:
        raise RuntimeError(f"{what} broke")

    async def scenario() -> None:
        tasks.spawn(fail("job"), name="settle-limits")
        service = tasks.spawn_service(fail("service"), name="spend-writer")
        await tasks.drain()
        await asyncio.wait([service])

    with caplog.at_level(logging.ERROR, logger="bastion.tasks"):
        asyncio.run(scenario())
    messages = [(r.getMessage(), str(r.exc_info[1]) if r.exc_info else "") for r in caplog.records]
    assert ("background task settle-limits failed", "job broke") in messages
    assert ("background task spend-writer failed", "service broke") in messages


def test_an_awaited_child_leaves_its_failure_to_the_awaiter(caplog: pytest.LogCaptureFixture) -> None:
    """Its creator re-raises the error; the supervisor neither logs it nor lets asyncio warn."""

    async def fail() -> None:
        raise ValueError("seen by the awaiter")

    async def scenario() -> str:
        child = tasks.spawn_awaited(fail(), name="single-flight")
        try:
            await child
        except ValueError as err:
            return str(err)
        return "not raised"

    with caplog.at_level(logging.DEBUG):
        assert asyncio.run(scenario()) == "seen by the awaiter"
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_close_drains_jobs_then_cancels_services_and_children() -> None:
    async def scenario() -> tuple[list[str], list[str], bool, bool]:
        supervisor = TaskSupervisor()
        finished: list[str] = []

        async def job() -> None:
            await asyncio.sleep(0)
            finished.append("job")

        service = supervisor.spawn_service(asyncio.Event().wait(), name="forever")
        child = supervisor.spawn_awaited(asyncio.Event().wait(), name="child")
        supervisor.spawn(job(), name="job")
        await supervisor.close(timeout=5)
        return finished, supervisor.running(), service.cancelled(), child.cancelled()

    assert asyncio.run(scenario()) == (["job"], [], True, True)


def test_a_task_set_drains_only_its_own_jobs() -> None:
    """The owners' pending-set bookkeeping, written once: settle.drain() ignores other jobs."""

    async def scenario() -> tuple[int, int]:
        other_gate, own_gate = asyncio.Event(), asyncio.Event()
        tasks.spawn(other_gate.wait(), name="other")
        settle = TaskSet("settle")
        settle.spawn(own_gate.wait())
        own_gate.set()
        await settle.drain()
        left = (len(settle), tasks.current().pending)
        other_gate.set()
        await tasks.drain()
        return left

    assert asyncio.run(scenario()) == (0, 1)


def test_each_event_loop_has_its_own_supervisor() -> None:
    async def which() -> TaskSupervisor:
        return tasks.current()

    first, again = asyncio.run(which()), asyncio.run(which())
    assert first is not again
