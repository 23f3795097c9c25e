"""What coding agents and LiteLLM's own client need from the gateway, checked with real SDKs and
HTTP: Claude Code's system-role turns on every group, Anthropic-worded validation errors,
``GET /model_group/info`` in LiteLLM's shape (scoped to the key) and readiness's version fields."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import anthropic
import orjson
import pytest

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, STATIC_KEY, UPSTREAM_KEY, deployment

#: What Claude Code 2.1 sends to a model name it does not recognise: its environment as a
#: system-role turn after the user's.
CLAUDE_CODE_MESSAGES: list[Any] = [
    {"role": "user", "content": [{"type": "text", "text": "hello"}]},
    {"role": "system", "content": "<env>Working directory: /tmp/project</env>"},
]


def _client(gateway: RunningGateway, key: str = MASTER_KEY) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway.url, auth_token=key, max_retries=0)


def _get(gateway: RunningGateway, path: str, key: str | None = None) -> tuple[int, Any]:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    request = urllib.request.Request(gateway.url + path, headers=headers)
    try:
        with urllib.request.urlopen(request) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read())


@pytest.fixture
def agent_gateway(start_gateway: Callable[..., RunningGateway], upstream: MockUpstream) -> RunningGateway:
    models = [
        deployment("gpt", "openai/gpt-4.1-mini", upstream.url + "/v1"),
        deployment("claude", "anthropic/claude-sonnet-4-5", upstream.url),
        deployment("mock", "mock/echo", None),
    ]
    models[0]["model_info"] = {"max_input_tokens": 1000, "supports_vision": True}
    models[0]["litellm_params"]["rpm"] = 60
    return start_gateway(
        {
            "model_list": models,
            "router_settings": {"num_retries": 0},
            "bastion_settings": {"static_keys": [{"key": STATIC_KEY, "alias": "limited", "models": ["gpt"]}]},
        }
    )


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
def test_system_turns_are_folded_into_the_system_prompt_on_a_translated_group(
    agent_gateway: RunningGateway, upstream: MockUpstream, stream: bool
) -> None:
    """Claude Code's system-role turn reaches an OpenAI upstream as part of the system prompt, after
    the top-level system, in order; the conversation keeps only user and assistant turns."""
    kwargs: dict[str, Any] = {
        "model": "gpt",
        "max_tokens": 3,
        "system": "You are Claude Code.",
        "messages": CLAUDE_CODE_MESSAGES,
    }
    client = _client(agent_gateway)
    if stream:
        with client.messages.stream(**kwargs) as answer:
            text = "".join(answer.text_stream)
    else:
        text = client.messages.create(**kwargs).content[0].text  # type: ignore[union-attr]
    assert text == "alpha bravo charlie"
    sent = upstream.requests[-1].body
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    system = sent["messages"][0]["content"]
    system_text = system if isinstance(system, str) else "\n".join(p["text"] for p in system)
    assert system_text.index("You are Claude Code.") < system_text.index("<env>Working directory")
    assert "<env>" not in orjson.dumps(sent["messages"][1]).decode()


def test_system_turns_pass_through_as_sent_to_an_anthropic_upstream(
    agent_gateway: RunningGateway, upstream: MockUpstream
) -> None:
    """On a pass-through group the body is forwarded untouched, system-role turn included."""
    answer = _client(agent_gateway).messages.create(
        model="claude", max_tokens=3, messages=CLAUDE_CODE_MESSAGES
    )
    assert answer.content[0].text == "alpha bravo charlie"  # type: ignore[union-attr]
    sent = upstream.requests[-1]
    assert sent.body["messages"] == CLAUDE_CODE_MESSAGES
    assert sent.headers["x-api-key"] == UPSTREAM_KEY


def test_system_turns_work_on_the_mock_provider(agent_gateway: RunningGateway) -> None:
    """The built-in mock (the demo's groups) takes them too, streamed."""
    with _client(agent_gateway).messages.stream(
        model="mock", max_tokens=2, messages=CLAUDE_CODE_MESSAGES
    ) as s:
        assert "".join(s.text_stream)


def test_validation_errors_use_anthropics_wording(
    agent_gateway: RunningGateway, upstream: MockUpstream
) -> None:
    """A bad role is a 400 invalid_request_error worded as Anthropic's ('messages.1.role: Input should
    be ...'), in Anthropic's envelope, so clients that recognise it fall back; nothing goes upstream."""
    with pytest.raises(anthropic.BadRequestError) as info:
        _client(agent_gateway).messages.create(
            model="gpt",
            max_tokens=3,
            messages=[{"role": "user", "content": "hi"}, {"role": "tool", "content": "x"}],  # type: ignore[list-item,misc]
        )
    body = info.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"] == {
        "type": "invalid_request_error",
        "message": "messages.1.role: Input should be 'user' or 'assistant'",
    }
    assert upstream.requests == []


def test_a_missing_max_tokens_is_field_required(agent_gateway: RunningGateway) -> None:
    """max_tokens left out: 'max_tokens: Field required', as Anthropic answers."""
    request = urllib.request.Request(
        agent_gateway.url + "/v1/messages",
        data=orjson.dumps({"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}),
        headers={"x-api-key": MASTER_KEY, "content-type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(request)
    assert info.value.code == 400
    assert orjson.loads(info.value.read())["error"]["message"] == "max_tokens: Field required"


def test_model_group_info_in_litellms_shape(agent_gateway: RunningGateway) -> None:
    """GET /model_group/info lists each group with LiteLLM's ModelGroupInfo fields, the price Bastion
    charges, the limits and flags model_info sets."""
    status, body = _get(agent_gateway, "/model_group/info", MASTER_KEY)
    assert status == 200
    rows = {row["model_group"]: row for row in body["data"]}
    assert set(rows) == {"gpt", "claude", "mock"}
    gpt = rows["gpt"]
    for field in (
        "providers",
        "max_input_tokens",
        "max_output_tokens",
        "input_cost_per_token",
        "output_cost_per_token",
        "mode",
        "tpm",
        "rpm",
        "supports_function_calling",
        "supports_parallel_function_calling",
        "supports_vision",
        "supported_openai_params",
    ):
        assert field in gpt, field
    assert gpt["providers"] == ["openai"] and rows["claude"]["providers"] == ["anthropic"]
    assert gpt["max_input_tokens"] == 1000 and gpt["rpm"] == 60 and gpt["mode"] == "chat"
    assert gpt["supports_vision"] is True and rows["claude"]["supports_vision"] is False
    assert gpt["supports_function_calling"] is True and "tools" in gpt["supported_openai_params"]
    # claude-sonnet-4-5 from the price table ($3 / $15 per million tokens); the mock is free.
    assert rows["claude"]["input_cost_per_token"] == pytest.approx(3e-6)
    assert rows["claude"]["output_cost_per_token"] == pytest.approx(15e-6)
    assert rows["mock"]["input_cost_per_token"] == 0


def test_model_group_info_is_scoped_to_the_key(agent_gateway: RunningGateway) -> None:
    """A key sees only its own groups, as on /v1/models; no key is a 401."""
    status, body = _get(agent_gateway, "/model_group/info", STATIC_KEY)
    assert status == 200 and [row["model_group"] for row in body["data"]] == ["gpt"]
    status, body = _get(agent_gateway, "/model_group/info")
    assert status == 401 and "error" in body
    assert UPSTREAM_KEY not in orjson.dumps(_get(agent_gateway, "/model_group/info", MASTER_KEY)[1]).decode()


def test_readiness_carries_litellms_version_fields(agent_gateway: RunningGateway) -> None:
    """LiteLLM's clients read litellm_version (and success_callbacks) from /health/readiness."""
    status, body = _get(agent_gateway, "/health/readiness")
    assert status == 200 and body["status"] == "healthy"
    assert isinstance(body["litellm_version"], str) and body["litellm_version"].count(".") == 2
    assert body["success_callbacks"] == [] and body["bastion_version"]
