"""The account API (/v2) from a test: a small urllib client and the config of an accounts gateway."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import orjson

__all__ = [
    "ENCRYPTION_KEY",
    "SUPERUSER",
    "SUPERUSER_PASSWORD",
    "SYSTEM_OPENAI_KEY",
    "USER_ANTHROPIC_KEY",
    "V2",
    "Answer",
    "accounts_config",
]

SUPERUSER = "admin@example.com"
SUPERUSER_PASSWORD = "admin-password-123"
ENCRYPTION_KEY = "test-encryption-key-0123456789abcdef-xyz"
#: The keys the mock upstream must see, and that must never show up anywhere else.
USER_ANTHROPIC_KEY = "sk-ant-user-own-key-0001wxyz"
SYSTEM_OPENAI_KEY = "sk-proj-system-config-key-5678"


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: Any
    raw: bytes


class V2:
    """Calls the gateway's /v2 API; ``token`` is sent as a bearer token when given."""

    def __init__(self, base_url: str, token: str | None = None) -> None:
        self.base_url = base_url
        self.token = token

    def call(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        form: dict[str, str] | None = None,
        token: str | None = None,
    ) -> Answer:
        headers = {}
        data = None
        if json is not None:
            data, headers["content-type"] = orjson.dumps(json), "application/json"
        elif form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["content-type"] = "application/x-www-form-urlencoded"
        bearer = token if token is not None else self.token
        if bearer:
            headers["authorization"] = f"Bearer {bearer}"
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                raw = resp.read()
                status, got = resp.status, dict(resp.headers)
        except urllib.error.HTTPError as err:
            raw, status, got = err.read(), err.code, dict(err.headers)
        is_json = got.get("content-type", "").startswith("application/json")
        return Answer(
            status, {k.lower(): v for k, v in got.items()}, orjson.loads(raw) if is_json else None, raw
        )

    def login(self, email: str, password: str) -> str:
        answer = self.call("POST", "/v2/login/access-token", form={"username": email, "password": password})
        assert answer.status == 200, answer.body
        token: str = answer.body["access_token"]
        return token

    def as_user(self, email: str, password: str) -> V2:
        return V2(self.base_url, self.login(email, password))


def accounts_config(upstream_url: str, **accounts: Any) -> dict[str, Any]:
    """Claude with no configured key (people bring theirs), GPT with a system key in the config,
    and the mock; the first superuser and the encryption key come from the environment."""
    return {
        "environment_variables": {
            "FIRST_SUPERUSER": SUPERUSER,
            "FIRST_SUPERUSER_PASSWORD": SUPERUSER_PASSWORD,
            "ENCRYPTION_KEY": ENCRYPTION_KEY,
        },
        "model_list": [
            {
                "model_name": "claude-sonnet-4-5",
                "litellm_params": {"model": "anthropic/claude-sonnet-4-5", "api_base": upstream_url},
            },
            {
                "model_name": "gpt-4.1-mini",
                "litellm_params": {
                    "model": "openai/gpt-4.1-mini",
                    "api_base": upstream_url + "/v1",
                    "api_key": SYSTEM_OPENAI_KEY,
                },
            },
            {
                "model_name": "gemini-2.5-flash",
                "litellm_params": {"model": "gemini/gemini-2.5-flash", "api_base": upstream_url},
            },
            {"model_name": "mock", "litellm_params": {"model": "mock/echo"}},
        ],
        "router_settings": {"num_retries": 0},
        "bastion_settings": {"accounts": {"login_slowdown_seconds": 0, **accounts}},
    }
