"""One token estimate: every place that guesses a count without the provider agrees on the rule."""

from __future__ import annotations

import orjson

from bastion.gateway.admission import estimate_prompt_tokens
from bastion.protocols.anthropic.count_tokens import estimate_input_tokens
from bastion.protocols.canonical import ChatRequest, Message, TextPart
from bastion.protocols.token_estimate import CHARS_PER_TOKEN, estimate_body_tokens, estimate_tokens
from bastion.providers.mock import MockProvider
from bastion.settings import Deployment


def _req(text: str) -> ChatRequest:
    return ChatRequest(model="m", messages=[Message("user", [TextPart(text)])])


def test_the_rule_is_four_characters_a_token() -> None:
    assert CHARS_PER_TOKEN == 4
    assert [estimate_tokens(n) for n in (0, 3, 4, 401, 4000)] == [0, 0, 1, 100, 1000]


def test_count_tokens_mock_and_admission_follow_the_same_rule() -> None:
    """The local count_tokens, the mock's usage and the admission/broken-stream prompt estimate all
    move by estimate_tokens(n) when n characters are added (before: ceil in one, floor elsewhere)."""
    short, long = "a" * 7, "a" * 7 + "b" * 401
    grown = estimate_tokens(len(long)) - estimate_tokens(len(short))
    assert estimate_input_tokens(_req(long)) - estimate_input_tokens(_req(short)) == grown
    dep = Deployment("mock", "mock", "mock", "echo", None, None, "mock-0")
    mock = MockProvider()
    assert mock.complete(_req(long), dep).usage.input_tokens == estimate_tokens(len(long))
    assert mock.complete(_req(""), dep).usage.input_tokens == 1  # a call is billed at least one token
    body = {"messages": [{"role": "user", "content": long}]}
    expected = estimate_tokens(len(orjson.dumps(body["messages"])))
    assert estimate_prompt_tokens(body) == estimate_body_tokens(body)[0] == expected
