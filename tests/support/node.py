"""Running the JavaScript SDK's tests (Node's built-in runner) from pytest, against a real gateway.

Node, the npm packages (``npm ci`` in clients/js) and Chromium are installed by ``make test``
(``make js-deps``); on a laptop without them these tests skip with the reason, in CI they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

__all__ = ["CHROMIUM", "JS_DIR", "OUTPUT_DIR", "ROOT", "require_tool", "run_node_tests"]

ROOT = Path(__file__).resolve().parents[2]
JS_DIR = ROOT / "clients" / "js"
#: Where tests write what a person may want to look at (screenshots); gitignored.
OUTPUT_DIR = ROOT / "test-output"
CHROMIUM = "/usr/bin/chromium"


def require_tool(present: bool, what: str) -> None:
    """Skip on a laptop without ``what``; fail in CI, where ``make test`` installs it."""
    if present:
        return
    message = f"{what} is not installed"
    if os.environ.get("CI"):
        pytest.fail(message + " (make js-deps installs it; CI needs it)")
    pytest.skip(message + "; run `make js-deps` (CI would fail here)")


def node() -> str:
    found = shutil.which("node")
    require_tool(found is not None, "Node 20 (node)")
    assert found is not None
    return found


def run_node_tests(files: list[str], env: dict[str, str], *, timeout: float = 240) -> dict[str, int]:
    """Run ``node --test`` on ``files`` (relative to clients/js) one file at a time; fail with its
    report on a non-zero exit. Returns the TAP summary's counts (``pass``, ``fail``, ``skipped``...)."""
    command = [node(), "--test", "--test-concurrency=1", "--test-reporter=tap", *files]
    result = subprocess.run(
        command,
        cwd=JS_DIR,
        env={**os.environ, **env, "NO_COLOR": "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        pytest.fail(f"node --test failed (exit {result.returncode}):\n{output}", pytrace=False)
    return {name: int(count) for name, count in re.findall(r"^# (\w+) (\d+)$", result.stdout, re.M)}
