"""Every task of the package starts in the task supervisor: no ``create_task`` or ``ensure_future``
elsewhere, on any object. Ruff's TID251 bans ``asyncio.create_task`` by name, but cannot see
``loop.create_task(...)`` or ``group.create_task(...)``; this test does."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[3] / "src" / "bastion"
#: The one module allowed to create tasks: the supervisor itself.
ALLOWED = {SRC / "tasks" / "supervisor.py"}
CREATORS = {"create_task", "ensure_future"}


def creations(source: str) -> list[str]:
    """``line: callee`` for each call of a task creator in ``source``, whatever it is called on."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in CREATORS:
            found.append(f"{node.lineno}: {ast.unparse(func)}")
    return found


def test_no_module_but_the_supervisor_creates_tasks() -> None:
    found = [
        f"{path.relative_to(SRC.parent)}:{line}"
        for path in sorted(SRC.rglob("*.py"))
        if path not in ALLOWED
        for line in creations(path.read_text())
    ]
    assert not found, "spawn through bastion.tasks (spawn, spawn_service, spawn_awaited):\n" + "\n".join(
        found
    )


def test_the_check_sees_tasks_created_on_a_loop_or_by_a_bare_name() -> None:
    """The check itself: ``loop.create_task`` (which TID251 misses) and an imported name are found."""
    source = (
        "import asyncio\nfrom asyncio import ensure_future\n"
        "loop = asyncio.new_event_loop()\nloop.create_task(work())\nensure_future(work())\n"
    )
    assert creations(source) == ["4: loop.create_task", "5: ensure_future"]
