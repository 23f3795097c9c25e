"""The JavaScript SDK (clients/js) against a real gateway and the mock upstream, with Node's own
test runner: chunk order and fields, retries and their waits, no retry after the first token,
timeouts, abort and each error class (clients/js/test/sdk.test.mjs says what each test proves);
and the TypeScript declarations compile against a typical use (clients/js/test/types.test.mjs)."""

from __future__ import annotations

from collections.abc import Callable

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, standard_models
from support.node import JS_DIR, require_tool, run_node_tests


def test_sdk_against_bastion(start_gateway: Callable[..., RunningGateway], upstream: MockUpstream) -> None:
    """Every SDK test passes against this gateway (a failing one fails this test with its report)."""
    gateway = start_gateway(
        {
            "model_list": standard_models(upstream.url),
            "router_settings": {"num_retries": 0, "timeout": 10},
            "bastion_settings": {
                "browser": {"models": ["claude", "gpt"], "max_tokens": 64},
                # Browser tokens minted with a user are on this plan; the others on none.
                "plans": {"tiny": {"max_tokens_per_period": 10, "quota_duration": "1d"}},
                "default_plan": "tiny",
            },
        }
    )
    counts = run_node_tests(
        ["test/sdk.test.mjs"],
        {"BASTION_URL": gateway.url, "BASTION_MASTER_KEY": MASTER_KEY, "MOCK_UPSTREAM_URL": upstream.url},
    )
    # The suite ran (it skips itself only without BASTION_URL) and every test passed.
    assert counts["fail"] == 0 and counts["skipped"] == 0 and counts["pass"] >= 19, counts


def test_keepalive_pings_do_not_hold_off_the_timeout() -> None:
    """A proxy that only sends `: ping` keep-alives gets ProviderTimeoutError after timeoutMs, before
    and after the first chunk (clients/js/test/timeout.test.mjs, against its own stalled mock)."""
    counts = run_node_tests(["test/timeout.test.mjs"], {})
    assert counts["fail"] == 0 and counts["skipped"] == 0 and counts["pass"] == 2, counts


def test_typescript_declarations() -> None:
    """src/index.d.ts compiles against a typical use with tsc --strict (and a misuse fails)."""
    require_tool((JS_DIR / "node_modules" / "typescript").is_dir(), "typescript (npm ci in clients/js)")
    counts = run_node_tests(["test/types.test.mjs"], {})
    assert counts["fail"] == 0 and counts["skipped"] == 0 and counts["pass"] == 1, counts
