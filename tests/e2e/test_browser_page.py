"""The example page in a real browser (Debian's Chromium, headless, driven by playwright-core from
clients/js/test/browser.test.mjs): the tokens appear in the page, a page from an allowed origin
streams through CORS, one from another origin is refused, and a screenshot of the finished page is
written to test-output/browser-stream.png."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, standard_models
from support.node import CHROMIUM, JS_DIR, OUTPUT_DIR, ROOT, require_tool, run_node_tests


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        return None


@pytest.fixture
def page_server() -> Iterator[int]:
    """The repository served as plain files on a loopback port (the page's other origin)."""
    handler = functools.partial(_Quiet, directory=str(ROOT))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join()


def test_example_page_in_chromium(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, page_server: int
) -> None:
    """The browser suite passes: tokens in the page, CORS allowed and refused, a screenshot."""
    require_tool(Path(CHROMIUM).exists(), f"Chromium ({CHROMIUM})")
    playwright = JS_DIR / "node_modules" / "playwright-core"
    require_tool(playwright.is_dir(), "playwright-core (npm ci in clients/js)")
    allowed = f"http://127.0.0.1:{page_server}"
    gateway = start_gateway(
        {
            "model_list": standard_models(upstream.url),
            "router_settings": {"num_retries": 0},
            "bastion_settings": {
                "browser": {
                    "models": ["claude"],
                    "cors_origins": [allowed],
                    "static_files": {
                        "/examples/browser": str(ROOT / "examples" / "browser"),
                        "/clients/js/src": str(JS_DIR / "src"),
                    },
                }
            },
        }
    )
    screenshot = OUTPUT_DIR / "browser-stream.png"
    screenshot.unlink(missing_ok=True)
    counts = run_node_tests(
        ["test/browser.test.mjs"],
        {
            "BASTION_URL": gateway.url,
            "BASTION_MASTER_KEY": MASTER_KEY,
            "PAGE_ORIGIN_ALLOWED": allowed,
            "PAGE_ORIGIN_DENIED": f"http://localhost:{page_server}",
            "CHROMIUM": CHROMIUM,
            "OUTPUT_DIR": str(OUTPUT_DIR),
        },
    )
    assert counts["fail"] == 0 and counts["skipped"] == 0 and counts["pass"] >= 3, counts
    assert screenshot.stat().st_size > 0
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
