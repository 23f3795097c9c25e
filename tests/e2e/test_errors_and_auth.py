"""Every error reaches the client in its own surface's format, with the right status and a usable message."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import anthropic
import openai
import orjson
import pytest
from google.genai import errors as genai_errors
from test_sdk_passthrough import anthropic_client, genai_client, openai_client

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, STATIC_KEY, UPSTREAM_KEY, standard_models


def raw_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any], dict[str, str]]:
    request = urllib.request.Request(url, data=body, headers={"content-type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request) as resp:
            return resp.status, orjson.loads(resp.read()), dict(resp.headers)
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read()), dict(err.headers)


def test_unknown_model_lists_what_exists(gateway: RunningGateway) -> None:
    """OpenAI surface: 404 model_not_found naming the configured models."""
    with pytest.raises(openai.NotFoundError) as info:
        openai_client(gateway).chat.completions.create(
            model="gpt-5-turbo", messages=[{"role": "user", "content": "x"}]
        )
    message = info.value.message
    assert "gpt-5-turbo" in message and "gpt, claude, gemini, mock" in message
    assert info.value.code == "model_not_found"


def test_unknown_model_anthropic_format(gateway: RunningGateway) -> None:
    """Anthropic surface: 404 not_found_error in Anthropic's envelope."""
    with pytest.raises(anthropic.NotFoundError) as info:
        anthropic_client(gateway).messages.create(
            model="nope", max_tokens=1, messages=[{"role": "user", "content": "x"}]
        )
    assert info.value.body["error"]["type"] == "not_found_error"  # type: ignore[index]
    assert "nope" in info.value.body["error"]["message"]  # type: ignore[index]


def test_unknown_model_gemini_format(gateway: RunningGateway) -> None:
    """Gemini surface: 404 NOT_FOUND in Google's envelope."""
    client = genai_client(gateway)
    with pytest.raises(genai_errors.ClientError) as info:
        client.models.generate_content(model="nope", contents="x")
    assert info.value.code == 404 and info.value.status == "NOT_FOUND"


def test_missing_max_tokens_on_messages(gateway: RunningGateway) -> None:
    """/v1/messages without max_tokens is a 400 that says so."""
    status, body, _ = raw_post(
        gateway.url + "/v1/messages",
        orjson.dumps({"model": "claude", "messages": [{"role": "user", "content": "hi"}]}),
        {"x-api-key": MASTER_KEY, "anthropic-version": "2023-06-01"},
    )
    assert status == 400
    assert body["type"] == "error" and body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]


@pytest.mark.parametrize(
    ("path", "headers", "check"),
    [
        ("/v1/chat/completions", {"authorization": f"Bearer {MASTER_KEY}"}, lambda b: b["error"]["type"]),
        ("/v1/messages", {"x-api-key": MASTER_KEY}, lambda b: b["error"]["type"]),
        (
            "/v1beta/models/gemini:generateContent",
            {"x-goog-api-key": MASTER_KEY},
            lambda b: b["error"]["status"],
        ),
    ],
)
def test_bad_json_is_400_in_each_format(
    gateway: RunningGateway, path: str, headers: dict[str, str], check: Callable[[dict[str, Any]], str]
) -> None:
    """Malformed JSON gets a 400 with a message saying the body is not valid JSON."""
    status, body, _ = raw_post(gateway.url + path, b'{"model": "gpt", "messages": [', headers)
    assert status == 400
    assert check(body) in ("invalid_request_error", "INVALID_ARGUMENT")
    assert "not valid JSON" in orjson.dumps(body).decode()


def test_body_too_large(start_gateway: Callable[..., RunningGateway], upstream: MockUpstream) -> None:
    """A body over max_request_size_mb is refused with 413 before it is read whole."""
    gw = start_gateway(
        {"model_list": standard_models(upstream.url), "bastion_settings": {"max_request_size_mb": 0.01}}
    )
    big = "x" * 20_000
    status, body, _ = raw_post(
        gw.url + "/v1/messages",
        orjson.dumps({"model": "claude", "max_tokens": 1, "messages": [{"role": "user", "content": big}]}),
        {"x-api-key": MASTER_KEY},
    )
    assert status == 413 and body["error"]["type"] == "request_too_large"
    assert "max_request_size_mb" in body["error"]["message"]
    assert upstream.requests == []


@pytest.mark.parametrize("key", [None, "sk-wrong-key-123456"])
def test_bad_or_missing_key_is_401(gateway: RunningGateway, key: str | None) -> None:
    """No key or an unknown key: 401 that tells the caller what to send, without echoing the key."""
    headers = {} if key is None else {"authorization": f"Bearer {key}"}
    status, body, response_headers = raw_post(
        gateway.url + "/v1/chat/completions", orjson.dumps({"model": "gpt", "messages": []}), headers
    )
    assert status == 401
    assert body["error"]["code"] in ("invalid_api_key", None)
    assert response_headers.get("x-should-retry") == "false"
    if key is not None:
        assert key not in orjson.dumps(body).decode()


def test_all_key_headers_are_accepted(gateway: RunningGateway) -> None:
    """Bearer, x-api-key, api-key, x-goog-api-key and ?key= all carry a Bastion key."""
    body = orjson.dumps({"model": "mock", "messages": [{"role": "user", "content": "hi"}]})
    for headers in (
        {"authorization": f"Bearer {MASTER_KEY}"},
        {"x-api-key": MASTER_KEY},
        {"api-key": MASTER_KEY},
        {"x-goog-api-key": MASTER_KEY},
    ):
        assert raw_post(gateway.url + "/v1/chat/completions", body, headers)[0] == 200
    gemini = orjson.dumps({"contents": [{"parts": [{"text": "hi"}]}]})
    assert (
        raw_post(gateway.url + f"/v1beta/models/mock:generateContent?key={MASTER_KEY}", gemini, {})[0] == 200
    )


def test_static_key_limited_to_its_models(gateway: RunningGateway) -> None:
    """A static key may call its models; another model is 403 naming the allowed ones."""
    client = openai_client(gateway, key=STATIC_KEY)
    assert client.chat.completions.create(
        model="gpt", messages=[{"role": "user", "content": "hi"}], max_tokens=1
    )
    with pytest.raises(openai.PermissionDeniedError) as info:
        client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}])
    assert "Models allowed for this key: gpt" in info.value.message
    assert [m.id for m in client.models.list()] == ["gpt"]


def test_upstream_auth_failure_message_reaches_client(
    gateway: RunningGateway, upstream: MockUpstream
) -> None:
    """The provider's own wording survives (Claude Code matches on it), the provider key does not."""
    from bastion.testing.upstream import Fault

    upstream.script(Fault(status=401, message="invalid x-api-key"))
    with pytest.raises(anthropic.AuthenticationError) as info:
        anthropic_client(gateway).messages.create(
            model="claude", max_tokens=1, messages=[{"role": "user", "content": "x"}]
        )
    assert "invalid x-api-key" in info.value.body["error"]["message"]  # type: ignore[index]
    assert len(upstream.requests) == 1  # a credential problem is not retried on the same deployment


def test_not_found_path(gateway: RunningGateway) -> None:
    """An unknown path is a 404 that names it."""
    status, body, _ = raw_post(
        gateway.url + "/v1/nothing-here", b"{}", {"authorization": f"Bearer {MASTER_KEY}"}
    )
    assert status == 404 and "/v1/nothing-here" in body["error"]["message"]


def test_provider_quoting_our_key_is_scrubbed(gateway: RunningGateway, upstream: MockUpstream) -> None:
    """A provider error that quotes the key it was sent reaches the client with the key removed."""
    from bastion.testing.upstream import Fault

    upstream.script(Fault(status=401, message=f"Incorrect API key provided: {UPSTREAM_KEY}."))
    with pytest.raises(openai.AuthenticationError) as info:
        openai_client(gateway).chat.completions.create(
            model="gpt", messages=[{"role": "user", "content": "x"}]
        )
    assert UPSTREAM_KEY not in info.value.response.text
    assert "Incorrect API key provided" in info.value.message
    assert UPSTREAM_KEY not in gateway.log_text()
