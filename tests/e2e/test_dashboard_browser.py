"""The admin dashboard in a real browser (Debian's Chromium, headless, driven by playwright-core
from clients/js/test/dashboard.test.mjs): log in, create a key with an expiry and a limit, see it
listed, see a request made with it in the requests (filtered by the key through the form), the
spend over time and the overview, clear its limit on the edit page, block it, delete it after the
confirmation. Screenshots of each page go to dashboard-screenshots/ in the run's temporary
directory; docs/screenshots/ holds copies of the two the docs show."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, standard_models
from support.node import CHROMIUM, JS_DIR, ROOT, require_tool, run_node_tests


def test_dashboard_in_chromium(
    start_gateway: Callable[..., RunningGateway],
    upstream: MockUpstream,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """The browser suite passes and every screenshot is a small PNG file, written to a stable
    path under the test run's temporary directory (pytest keeps ``pytest-current`` pointing at
    the newest run): ``/tmp/pytest-of-$USER/pytest-current/dashboard-screenshots/``."""
    require_tool(Path(CHROMIUM).exists(), f"Chromium ({CHROMIUM})")
    require_tool(
        (JS_DIR / "node_modules" / "playwright-core").is_dir(), "playwright-core (npm ci in clients/js)"
    )
    gateway = start_gateway(
        {"model_list": standard_models(upstream.url), "router_settings": {"num_retries": 0}}
    )
    output = tmp_path_factory.getbasetemp() / "dashboard-screenshots"
    shots = [
        output / f"dashboard-{name}.png"
        for name in ("keys", "requests", "spend", "overview", "key-edit", "key-delete")
    ]
    for shot in shots:
        shot.unlink(missing_ok=True)
    counts = run_node_tests(
        ["test/dashboard.test.mjs"],
        {
            "BASTION_URL": gateway.url,
            "BASTION_MASTER_KEY": MASTER_KEY,
            "CHROMIUM": CHROMIUM,
            "OUTPUT_DIR": str(output),
        },
    )
    assert counts["fail"] == 0 and counts["skipped"] == 0 and counts["pass"] >= 6, counts
    for shot in shots:
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", shot
        # Viewport-sized: small enough to copy into docs/screenshots/ (the docs show two of them).
        assert shot.stat().st_size < 150_000, (shot, shot.stat().st_size)
    for copy in (ROOT / "docs" / "screenshots").glob("*.png"):
        assert (output / copy.name).exists(), f"{copy.name} is no screenshot this test takes"
        assert copy.stat().st_size < 150_000, copy
