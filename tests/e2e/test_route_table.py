"""One route table, seen from a client: 405s and 404s in each API family's own format, and one
error boundary that turns any unexpected failure into a logged 500 with the request id."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import orjson
import pytest

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, standard_models

AUTH = {"authorization": f"Bearer {MASTER_KEY}"}


def call(
    gateway: RunningGateway, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(gateway.url + path, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request) as resp:
            return resp.status, resp.read(), {k.lower(): v for k, v in resp.headers.items()}
    except urllib.error.HTTPError as err:
        return err.code, err.read(), {k.lower(): v for k, v in err.headers.items()}


@pytest.fixture
def routed(start_gateway: Callable[..., RunningGateway], upstream: MockUpstream) -> RunningGateway:
    return start_gateway(
        {"model_list": standard_models(upstream.url), "bastion_settings": {"browser": {"models": ["gpt"]}}}
    )


def _openai(body: bytes) -> str:
    error = orjson.loads(body)["error"]
    assert set(error) == {"message", "type", "param", "code"}
    return str(error["message"])


def _anthropic(body: bytes) -> str:
    data = orjson.loads(body)
    assert data["type"] == "error"
    return str(data["error"]["message"])


def _gemini(body: bytes) -> str:
    error = orjson.loads(body)["error"]
    assert isinstance(error["code"], int) and isinstance(error["status"], str)
    return str(error["message"])


def _account(body: bytes) -> str:
    data = orjson.loads(body)
    assert set(data) >= {"detail", "code"}
    return str(data["detail"])


def _tokenstream(body: bytes) -> str:
    error = orjson.loads(body)["error"]
    assert "status" in error and "type" in error
    return str(error["message"])


def _page(body: bytes) -> str:
    assert body.startswith(b"<!doctype html>") or b"<html" in body
    return body.decode()


@pytest.mark.parametrize(
    ("method", "path", "headers", "allowed", "read"),
    [
        ("GET", "/v1/chat/completions", {}, "POST", _openai),
        ("DELETE", "/v1/messages", {"anthropic-version": "2023-06-01"}, "POST", _anthropic),
        ("GET", "/v1beta/models/gemini:generateContent", {}, "POST", _gemini),
        ("GET", "/key/generate", AUTH, "POST", _openai),
        ("PUT", "/v1/models", {}, "GET, HEAD", _openai),
        ("DELETE", "/v2/login/access-token", {}, "POST", _account),
        ("POST", "/v2/users/me", {}, "DELETE, GET, HEAD, PATCH", _account),
        ("GET", "/api/openai", {}, "OPTIONS, POST", _tokenstream),
        ("PUT", "/ui/keys", {}, "GET, HEAD", _page),
        ("POST", "/health/readiness", {}, "GET, HEAD", _openai),
    ],
)
def test_a_wrong_method_is_a_405_naming_the_allowed_ones_in_the_family_format(
    routed: RunningGateway,
    method: str,
    path: str,
    headers: dict[str, str],
    allowed: str,
    read: Callable[[bytes], str],
) -> None:
    status, body, answer = call(routed, method, path, headers)
    assert status == 405 and answer["allow"] == allowed
    message = read(body)
    assert method in message and allowed in message


@pytest.mark.parametrize(
    ("path", "headers", "read"),
    [
        ("/v1/nothing-here", {}, _openai),
        ("/v1/nothing-here", {"anthropic-version": "2023-06-01"}, _anthropic),
        ("/v1beta/nothing", {}, _gemini),
        ("/v1beta/models/gemini:noSuchAction", {}, _gemini),
        ("/key/nothing", AUTH, _openai),
        ("/v2/nothing", {}, _account),
        ("/ui/nothing", {}, _page),
        ("/api/nothing", {}, _tokenstream),
        ("/nothing", {"x-goog-api-key": "k"}, _gemini),
    ],
)
def test_an_unknown_path_is_a_404_in_the_family_format(
    routed: RunningGateway, path: str, headers: dict[str, str], read: Callable[[bytes], str]
) -> None:
    status, body, answer = call(routed, "POST", path, headers)
    assert status == 404
    assert path in read(body)
    assert answer.get("x-request-id", "").startswith("req_")


def test_a_trailing_slash_and_head_reach_the_same_route(routed: RunningGateway) -> None:
    assert call(routed, "GET", "/health/liveliness/")[0] == 200
    status, body, _ = call(routed, "HEAD", "/health/readiness")
    assert status == 200 and body == b""


def _boom(*args: Any, **kwargs: Any) -> Any:
    raise RuntimeError("a bug with a secret: sk-never-shown-0123456789")


@pytest.mark.parametrize(
    ("target", "method", "path", "headers", "read"),
    [
        ("bastion.api.catalog.listed", "GET", "/v1/models", AUTH, _openai),
        ("bastion.app.deployment_info", "GET", "/model/info", AUTH, _openai),
        ("bastion.accounts.users.AccountService.log_in", "POST", "/v2/login/access-token", {}, _account),
        ("bastion.web.dashboard._is_https", "GET", "/ui/login", {}, _page),
    ],
)
def test_an_unexpected_failure_is_a_logged_500_with_the_request_id(
    routed: RunningGateway,
    monkeypatch: pytest.MonkeyPatch,
    target: str,
    method: str,
    path: str,
    headers: dict[str, str],
    read: Callable[[bytes], str],
) -> None:
    """Whatever the handler, a bug becomes a 500 in the route's format that names a request id
    (also in x-request-id); the log has the traceback under that id and the route, never the key."""
    monkeypatch.setattr(target, _boom)
    if path == "/v2/login/access-token":
        headers = {**headers, "content-type": "application/x-www-form-urlencoded"}
        request = urllib.request.Request(
            routed.url + path, data=b"username=a%40b.c&password=pw", headers=headers, method="POST"
        )
        try:
            urllib.request.urlopen(request)
        except urllib.error.HTTPError as err:
            status, body, answer = err.code, err.read(), {k.lower(): v for k, v in err.headers.items()}
    else:
        status, body, answer = call(routed, method, path, headers)
    assert status == 500
    message = read(body)
    found = re.search(r"req_[0-9a-f]{24}", message)
    assert found is not None and answer["x-request-id"] == found.group(0)
    assert "sk-never-shown" not in message
    logs = routed.log_text()
    assert found.group(0) in logs and "RuntimeError" in logs


def test_the_openapi_document_is_served(routed: RunningGateway) -> None:
    """GET /openapi.json needs no key and lists the gateway's routes, the configured ones too."""
    status, body, headers = call(routed, "GET", "/openapi.json")
    assert status == 200 and headers["content-type"] == "application/json"
    document = orjson.loads(body)
    assert document["openapi"].startswith("3.1")
    assert {"/v1/chat/completions", "/key/generate", "/v2/users", "/api/openai"} <= set(document["paths"])
