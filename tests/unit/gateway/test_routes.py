"""Routing rules: each condition, first match wins, time windows, context-window fallbacks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bastion.domain.principal import ANONYMOUS, Principal
from bastion.gateway.routes import RouteTable, has_images
from bastion.settings import load_settings

GROUPS = ["a", "b", "c"]


def table(tmp_path: Path, routes: list[dict[str, Any]], *, now: float = 0.0, **extra: Any) -> RouteTable:
    config: dict[str, Any] = {
        "model_list": [{"model_name": g, "litellm_params": {"model": f"mock/{g}"}} for g in GROUPS],
        "bastion_settings": {"routes": routes},
        **extra,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return RouteTable(load_settings(path, environ={}), clock=lambda: now)


def body(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}], **extra}


def choose(
    t: RouteTable, b: dict[str, Any], *, headers: dict[str, str] | None = None, who: Principal = ANONYMOUS
) -> Any:
    choice = t.choose("a", b, headers or {}, who)
    return choice.group, choice.rule


def test_token_bounds(tmp_path: Path) -> None:
    t = table(
        tmp_path,
        [
            {"name": "long", "to": "c", "when": {"prompt_tokens_above": 100}},
            {"name": "short", "to": "b", "when": {"prompt_tokens_below": 10}},
        ],
    )
    assert choose(t, body("hi")) == ("b", "short")
    assert choose(t, body("x" * 1000)) == ("c", "long")
    assert choose(t, body("x" * 100)) == ("a", None)


def test_first_match_wins_and_model_filters(tmp_path: Path) -> None:
    t = table(
        tmp_path,
        [
            {"name": "only-b", "model": "b", "to": "c"},
            {"name": "first", "to": "b"},
            {"name": "second", "to": "c"},
        ],
    )
    assert choose(t, body()) == ("b", "first")


def test_tags_headers_teams_tools_images(tmp_path: Path) -> None:
    t = table(
        tmp_path,
        [
            {"name": "tag", "to": "b", "when": {"tag": ["batch", "cheap"]}},
            {"name": "team", "to": "c", "when": {"team": "research"}},
            {"name": "tools", "to": "b", "when": {"tools": True, "header": {"X-Tier": "1"}}},
            {"name": "images", "to": "c", "when": {"images": True}},
        ],
    )
    assert choose(t, body(metadata={"tags": ["cheap"]})) == ("b", "tag")
    assert choose(t, body(), headers={"x-litellm-tags": "x, batch"}) == ("b", "tag")
    assert choose(t, body(), who=Principal("virtual_key", "k", "h", team_id="research")) == ("c", "team")
    assert choose(t, body(tools=[{"type": "function"}])) == ("a", None)
    assert choose(t, body(tools=[{"type": "function"}]), headers={"x-tier": "1"}) == ("b", "tools")
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}
    assert choose(t, {"messages": [{"role": "user", "content": [image]}]}) == ("c", "images")


def test_images_in_every_protocol() -> None:
    assert has_images({"messages": [{"role": "user", "content": [{"type": "image", "source": {}}]}]})
    gemini = {"contents": [{"parts": [{"inlineData": {"mimeType": "image/png", "data": "AA"}}]}]}
    assert has_images(gemini)
    assert not has_images({"contents": [{"parts": [{"text": "hi"}]}]})


@pytest.mark.parametrize(
    ("minute", "window", "matches"),
    [
        (9 * 60, "08:00-17:00", True),
        (18 * 60, "08:00-17:00", False),
        (23 * 60, "22:00-06:00", True),
        (3 * 60, "22:00-06:00", True),
        (12 * 60, "22:00-06:00", False),
    ],
)
def test_time_of_day_windows(tmp_path: Path, minute: int, window: str, matches: bool) -> None:
    t = table(tmp_path, [{"name": "night", "to": "b", "when": {"time": window}}], now=86400 * 3 + minute * 60)
    assert (choose(t, body())[1] == "night") is matches


def test_context_window_fallback(tmp_path: Path) -> None:
    config = {
        "model_list": [
            {
                "model_name": "a",
                "litellm_params": {"model": "mock/a"},
                "model_info": {"max_input_tokens": 50},
            },
            {
                "model_name": "b",
                "litellm_params": {"model": "mock/b"},
                "model_info": {"max_input_tokens": 60},
            },
            {"model_name": "c", "litellm_params": {"model": "mock/c"}},
        ],
        "router_settings": {"context_window_fallbacks": [{"a": ["b", "c"]}]},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    t = RouteTable(load_settings(path, environ={}))
    assert choose(t, body("x" * 100)) == ("a", None)
    assert choose(t, body("x" * 1000)) == ("c", "context_window_fallback")
