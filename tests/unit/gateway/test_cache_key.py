"""The cache key: the same answer-changing request in the same scope, the same key; nothing else."""

from __future__ import annotations

from typing import Any

from bastion.gateway.cache_key import cache_key


def key(body: dict[str, Any], *, scope: str = "key:a", group: str = "gpt", surface: str = "openai") -> str:
    return cache_key(namespace="ns", surface=surface, group=group, scope=scope, body=body)


BODY = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}], "temperature": 0}


def test_key_order_and_ignored_fields_do_not_matter() -> None:
    reordered = {"temperature": 0, "messages": [{"content": "hi", "role": "user"}], "model": "alias"}
    noisy = BODY | {
        "stream": True,
        "stream_options": {"include_usage": True},
        "user": "u",
        "metadata": {"a": 1},
    }
    assert key(BODY) == key(reordered) == key(noisy) == key(BODY | {"cache": {"ttl": 5}})
    assert key(BODY).startswith("ns:cache:") and len(key(BODY)) == len("ns:cache:") + 64


def test_what_changes_the_answer_changes_the_key() -> None:
    assert key(BODY) != key(BODY | {"temperature": 1})
    assert key(BODY) != key(BODY | {"tools": [{"type": "function"}]})
    assert key(BODY) != key(BODY | {"messages": [{"role": "user", "content": "ho"}]})
    assert key(BODY) != key(BODY, group="claude")
    assert key(BODY) != key(BODY, surface="anthropic")


def test_scope_separates_callers() -> None:
    assert key(BODY, scope="key:a") != key(BODY, scope="key:b")
    assert key(BODY, scope="team:t") != key(BODY, scope="global")
