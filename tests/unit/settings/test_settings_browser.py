"""``bastion_settings.browser``: defaults, and every unsafe choice refused at start-up with its place."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bastion.domain.errors import ConfigError
from bastion.settings import BrowserSettings, load_settings

Write = Callable[..., Path]

GROUPS = """\
model_list:
  - model_name: gpt
    litellm_params: {model: mock/a}
  - model_name: claude
    litellm_params: {model: mock/b}
"""


def section(body: str) -> str:
    indented = "\n".join("    " + line for line in body.strip("\n").splitlines())
    return f"bastion_settings:\n  browser:\n{indented}\n"


def load(write_config: Write, body: str) -> BrowserSettings:
    browser = load_settings(write_config(GROUPS + section(body)), environ={}).bastion.browser
    assert browser is not None
    return browser


def error_of(write_config: Write, body: str) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(write_config(GROUPS + section(body)), environ={})
    return str(caught.value)


def test_absent_means_off(write_config: Write) -> None:
    assert load_settings(write_config(GROUPS), environ={}).bastion.browser is None


def test_an_empty_section_turns_the_endpoints_on_with_defaults(write_config: Write) -> None:
    path = write_config(GROUPS + "bastion_settings:\n  browser: {}\n")
    browser = load_settings(path, environ={}).bastion.browser
    assert browser == BrowserSettings()
    assert (browser.anthropic_path, browser.openai_path, browser.token_path) == (
        "/api/anthropic",
        "/api/openai",
        "/api/token",
    )


def test_everything_set(write_config: Write, tmp_path: Path) -> None:
    (tmp_path / "site").mkdir()
    browser = load(
        write_config,
        """
        anthropic_path: /b/claude
        openai_path: /b/gpt
        token_path: /b/token
        models: [claude]
        cors_origins: [https://App.example.com, "http://localhost:5173"]
        cors_allow_credentials: true
        max_request_bytes: 4096
        max_tokens: 200
        token_secret: 0123456789abcdef0123456789abcdef
        token_ttl_seconds: 60
        token_max_ttl_seconds: 120
        user_limits: {rpm_limit: 5, max_parallel_requests: 1}
        static_files: {/demo: site}
        """,
    )
    assert browser.models == ("claude",)
    assert browser.cors_origins == ("https://app.example.com", "http://localhost:5173")
    assert browser.token_secret is not None and "0123" not in repr(browser)
    assert browser.user_limits.rpm_limit == 5 and browser.user_limits.max_parallel_requests == 1
    assert browser.static_files["/demo"] == (tmp_path / "site").resolve()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "cors_origins: ['*']\ncors_allow_credentials: true",
            "'*' may not be used with cors_allow_credentials",
        ),
        ("cors_origins: [https://app.example.com/]", "must be an origin"),
        ("cors_origins: [app.example.com]", "must be an origin"),
        ("models: [gtp]", "did you mean 'gpt'"),
        ("token_ttl_seconds: 1000", "must not exceed token_max_ttl_seconds"),
        ("token_max_ttl_seconds: 86400", "browser tokens live minutes"),
        ("token_secret: short", "at least 32 characters"),
        ("openai_path: /api/anthropic", "already used"),
        ("token_path: api/token", "must be a path"),
        ("max_tokens: 0", "browser.max_tokens"),
        ("static_files: {/demo: nowhere}", "is not a directory"),
        ("user_limits: {max_budget: 1}", "unknown key"),
        ("cors_origin: [https://a.example]", "did you mean 'cors_origins'"),
    ],
)
def test_refused(write_config: Write, body: str, message: str) -> None:
    assert message in error_of(write_config, body)


def test_star_without_credentials_is_allowed(write_config: Write) -> None:
    assert load(write_config, "cors_origins: ['*']").cors_origins == ("*",)
