"""Routes that would answer the same method and path are refused when the gateway is built."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bastion.app import build_app
from bastion.domain.errors import ConfigError
from bastion.settings import Settings


def _config(**browser: Any) -> dict[str, Any]:
    return {
        "model_list": [{"model_name": "m", "litellm_params": {"model": "mock/x"}}],
        "bastion_settings": {"browser": browser},
    }


@pytest.mark.parametrize(
    ("setting", "path", "taken"),
    [
        ("openai_path", "/v1/chat/completions", "POST /v1/chat/completions"),
        ("anthropic_path", "/v1/messages", "POST /v1/messages"),
        ("token_path", "/key/generate", "POST /key/generate"),
        ("token_path", "/v2/users", "POST /v2/users"),
    ],
)
def test_a_browser_path_on_an_existing_route_stops_start_up(
    write_config: Callable[[dict[str, Any]], Settings], setting: str, path: str, taken: str
) -> None:
    """The gateway is not built: the error names the setting and the route it would take over."""
    settings = write_config(_config(**{setting: path}))
    with pytest.raises(ConfigError) as caught:
        build_app(settings, migrate=False)
    message = str(caught.value)
    assert f"bastion_settings.browser.{setting}" in message and taken in message


def test_a_static_prefix_over_the_dashboard_stops_start_up(
    write_config: Callable[[dict[str, Any]], Settings], tmp_path: Any
) -> None:
    """A demo directory mounted at /ui would shadow the dashboard's pages."""
    (tmp_path / "site").mkdir()
    settings = write_config(_config(static_files={"/ui": str(tmp_path / "site")}))
    with pytest.raises(ConfigError, match=r"bastion_settings\.browser\.static_files"):
        build_app(settings, migrate=False)


def test_distinct_browser_paths_build(write_config: Callable[[dict[str, Any]], Settings]) -> None:
    """Paths of their own are fine (the default /api/... ones, or any other free path)."""
    build_app(write_config(_config(openai_path="/browser/openai")), migrate=False)
