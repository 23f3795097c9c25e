"""The admin dashboard in a real browser (Debian's Chromium, headless, driven by playwright-core
from clients/js/test/dashboard.test.mjs): log in, create a key, see it listed, see a request made
with it in the recent requests and the spend chart, block it; screenshots of the overview and the
spend page are written to test-output/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, standard_models
from support.node import CHROMIUM, JS_DIR, OUTPUT_DIR, require_tool, run_node_tests


def test_dashboard_in_chromium(start_gateway: Callable[..., RunningGateway], upstream: MockUpstream) -> None:
    """The browser suite passes and both screenshots are PNG files."""
    require_tool(Path(CHROMIUM).exists(), f"Chromium ({CHROMIUM})")
    require_tool(
        (JS_DIR / "node_modules" / "playwright-core").is_dir(), "playwright-core (npm ci in clients/js)"
    )
    gateway = start_gateway(
        {"model_list": standard_models(upstream.url), "router_settings": {"num_retries": 0}}
    )
    shots = [OUTPUT_DIR / "dashboard-overview.png", OUTPUT_DIR / "dashboard-spend.png"]
    for shot in shots:
        shot.unlink(missing_ok=True)
    counts = run_node_tests(
        ["test/dashboard.test.mjs"],
        {
            "BASTION_URL": gateway.url,
            "BASTION_MASTER_KEY": MASTER_KEY,
            "CHROMIUM": CHROMIUM,
            "OUTPUT_DIR": str(OUTPUT_DIR),
        },
    )
    assert counts["fail"] == 0 and counts["skipped"] == 0 and counts["pass"] >= 4, counts
    for shot in shots:
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", shot
