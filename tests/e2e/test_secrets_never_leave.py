"""Issue 12, item 2: no configured secret reaches a client, whatever the upstream sends back.

A hostile upstream (support/hostile_upstream.py, on a real socket) quotes every request header, so
the provider key it was sent, in every error shape: an HTTP error whose every field quotes it, a
200 stream whose first frame is an in-band error, a mid-stream error, an error split over two
socket writes, and a successful answer whose text is the quote. Each client surface (OpenAI,
Anthropic, Gemini; streamed and not) calls each provider kind (openai, anthropic, gemini,
hosted_vllm, mock). Nothing the client receives (status line, headers, body) may hold any secret
byte sequence, and the client still gets an answer or an error in its own format.
"""

from __future__ import annotations

import http.client
import json
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from bastion.settings import load_settings
from bastion.testing.gateway import RunningGateway
from support import MASTER_KEY, STATIC_KEY
from support.accounts import SUPERUSER, SUPERUSER_PASSWORD, V2, accounts_config
from support.hostile_upstream import ServedApp, hostile_app

#: One key per provider kind, each a different shape; the OpenAI one comes from the environment.
KEYS = {
    "openai": "sk-proj-hostileOpenAIkey0123456789",
    "anthropic": "sk-ant-api03-hostile-anthropic-key-abcdef",
    "gemini": "AIzaSyHostileGeminiKey_0123456789abcdef",
    "vllm": "tok-123abc",
    "mock": "mock/secret-77-quoted",
}
KINDS = {
    "openai": ("openai/hostile-{mode}", "/v1"),
    "anthropic": ("anthropic/hostile-{mode}", ""),
    "gemini": ("gemini/hostile-{mode}", ""),
    "vllm": ("hosted_vllm/hostile-{mode}", "/v1"),
}
MODES = ("json", "sse", "mid", "split", "echo")
SECRETS = (*KEYS.values(), MASTER_KEY, STATIC_KEY)


def _forms(secret: str) -> list[bytes]:
    return [secret.encode(), orjson.dumps(secret)[1:-1], json.dumps(secret)[1:-1].encode()]


def _leaks(raw: bytes) -> list[str]:
    return [secret for secret in SECRETS if any(form in raw for form in _forms(secret))]


@pytest.fixture(scope="module")
def hostile() -> Iterator[RunningGateway]:
    with ServedApp(hostile_app()) as upstream:
        models: list[dict[str, Any]] = []
        for kind, (model, suffix) in KINDS.items():
            for mode in MODES:
                key = "os.environ/HOSTILE_OPENAI_KEY" if kind == "openai" else KEYS[kind]
                params = {"model": model.format(mode=mode), "api_base": upstream.url + suffix, "api_key": key}
                models.append({"model_name": f"{kind}-{mode}", "litellm_params": params})
        # The mock provider answers in-process; its configured answer quotes its own key.
        mock = {"model": "mock/echo", "api_key": KEYS["mock"], "mock_response": f"key={KEYS['mock']}"}
        models.append({"model_name": "mock-echo", "litellm_params": mock})
        config = {
            "model_list": models,
            "router_settings": {"num_retries": 0, "allowed_fails": 10_000},
            "general_settings": {"master_key": MASTER_KEY},
            "bastion_settings": {"static_keys": [{"key": STATIC_KEY, "alias": "static"}]},
        }
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "config.yaml"
            path.write_text(yaml.safe_dump(config))
            settings = load_settings(path, environ={"HOSTILE_OPENAI_KEY": KEYS["openai"]})
            gateway = RunningGateway(settings)
            gateway.start()
            try:
                yield gateway
            finally:
                gateway.stop()


@dataclass
class Answer:
    status_code: int
    headers: list[tuple[str, str]]
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode()

    def json(self) -> Any:
        return orjson.loads(self.content)


def _call(gw: RunningGateway, surface: str, group: str, stream: bool) -> Answer:
    # A client key, not the master key, so the master key is only ever in the gateway's config.
    return _call_as(gw, STATIC_KEY, surface, group, stream)


def _call_as(gw: RunningGateway, key: str, surface: str, group: str, stream: bool) -> Answer:
    headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
    text = [{"role": "user", "content": "hello"}]
    if surface == "openai":
        body: dict[str, Any] = {"model": group, "messages": text, "stream": stream}
        url = "/v1/chat/completions"
    elif surface == "anthropic":
        body = {"model": group, "max_tokens": 16, "messages": text, "stream": stream}
        url = "/v1/messages"
    else:
        body = {"contents": [{"role": "user", "parts": [{"text": "hello"}]}]}
        action = "streamGenerateContent?alt=sse" if stream else "generateContent"
        url = f"/v1beta/models/{group}:{action}"
    conn = http.client.HTTPConnection("127.0.0.1", int(gw.url.rsplit(":", 1)[1]), timeout=30)
    try:
        conn.request("POST", url, body=orjson.dumps(body), headers=headers)
        response = conn.getresponse()
        return Answer(response.status, response.getheaders(), response.read())
    finally:
        conn.close()


def _raw(response: Answer) -> bytes:
    head = "".join(f"{k}: {v}\n" for k, v in response.headers).encode("latin-1")
    return head + response.content


def _assert_error_in_format(surface: str, response: Answer, *, stream: bool) -> None:
    """The client still learns what went wrong, in its own surface's format."""
    if response.status_code >= 400 or not stream:
        assert response.status_code >= 400, response.text
        body = response.json()
        if surface == "anthropic":
            assert body["type"] == "error" and body["error"]["message"], body
        else:
            assert body["error"]["message"], body
        return
    text = response.text
    if surface == "anthropic":
        assert "event: error" in text, text
    else:
        frames = [orjson.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]
        errors = [f["error"] for f in frames if "error" in f]
        assert errors and errors[-1]["message"], text


@pytest.mark.parametrize("surface", ["openai", "anthropic", "gemini"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_upstream_quoting_its_key_never_reaches_the_client(
    hostile: RunningGateway, surface: str, stream: bool, kind: str
) -> None:
    for mode in MODES:
        response = _call(hostile, surface, f"{kind}-{mode}", stream)
        assert _leaks(_raw(response)) == [], f"{kind}-{mode} via {surface} leaked:\n{response.text}"
        assert response.status_code < 500 or mode != "echo", response.text
        if mode == "echo":
            assert response.status_code == 200, response.text
            assert "[REDACTED]" in response.text  # the quote arrived, the key in it did not
        elif mode == "json" or (stream and mode in ("sse", "mid", "split")):
            _assert_error_in_format(surface, response, stream=stream)


@pytest.mark.parametrize("surface", ["openai", "anthropic", "gemini"])
@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
def test_mock_provider_answer_quoting_its_key_is_scrubbed(
    hostile: RunningGateway, surface: str, stream: bool
) -> None:
    response = _call(hostile, surface, "mock-echo", stream)
    assert response.status_code == 200, response.text
    assert _leaks(_raw(response)) == []
    assert "key=[REDACTED]" in response.text


def test_the_upstream_really_was_sent_the_keys(hostile: RunningGateway) -> None:
    """The hostile upstream quotes what it got: without the scrubber, the keys would be there."""
    assert hostile.app is not None
    scrubber = hostile.app._dispatch.scrubber
    try:
        hostile.app._dispatch.scrubber = type(scrubber)()
        leaked = set()
        for kind in KINDS:
            leaked.update(_leaks(_raw(_call(hostile, "openai", f"{kind}-json", False))))
    finally:
        hostile.app._dispatch.scrubber = scrubber
    assert leaked >= {KEYS["openai"], KEYS["anthropic"], KEYS["gemini"], KEYS["vllm"]}


USER_KEY = "my-own-anthropic-key-0042"  # not shaped like a key: only its value can find it
SYSTEM_KEY = "stored-openai-system-key-0077"


def test_a_users_own_key_and_a_stored_system_key_are_scrubbed(
    start_gateway: Callable[..., RunningGateway],
) -> None:
    """Keys that are not in the config (a user's BYO key, a system key stored through /v2) are
    scrubbed from the answer of the call that used them."""
    with ServedApp(hostile_app()) as upstream:
        config = accounts_config(upstream.url)
        config["model_list"] = [
            {
                "model_name": f"claude-{mode}",
                "litellm_params": {"model": f"anthropic/hostile-{mode}", "api_base": upstream.url},
            }
            for mode in ("json", "echo")
        ] + [
            {
                "model_name": f"gpt-{mode}",
                "litellm_params": {"model": f"openai/hostile-{mode}", "api_base": upstream.url + "/v1"},
            }
            for mode in ("json", "sse")
        ]
        gw = start_gateway(config)
        admin = V2(gw.url).as_user(SUPERUSER, SUPERUSER_PASSWORD)
        assert (
            admin.call("POST", "/v2/users", json={"email": "u@example.com", "password": "pw-12345678"}).status
            == 201
        )
        user = V2(gw.url).as_user("u@example.com", "pw-12345678")
        assert user.call("PATCH", "/v2/users/me/api-key", json={"anthropic_api_key": USER_KEY}).status == 200
        assert admin.call("PUT", "/v2/admin/llm-keys/openai", json={"api_key": SYSTEM_KEY}).status == 200
        hello = [{"role": "user", "content": "hello"}]
        for mode in ("json", "echo"):
            reply = user.call(
                "POST",
                "/v2/llm/chat/completions",
                json={"model_id": f"claude-{mode}", "messages": hello, "max_tokens": 3},
            )
            assert USER_KEY.encode() not in reply.raw and "[REDACTED]" in reply.raw.decode()
        for mode, stream in (("json", False), ("sse", True)):
            answer = _call_as(gw, MASTER_KEY, "openai", f"gpt-{mode}", stream)
            assert SYSTEM_KEY.encode() not in _raw(answer), answer.text
            _assert_error_in_format("openai", answer, stream=stream)
        logs = gw.log_text()
        assert USER_KEY not in logs and SYSTEM_KEY not in logs
