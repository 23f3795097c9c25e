"""Where an upstream URL goes: split once per deployment URL, never kept when it can hold a key."""

from __future__ import annotations

from bastion.outbound.http import HttpPool


def test_a_deployment_url_is_split_once_and_shares_its_origin() -> None:
    pool = HttpPool()
    first = pool._target("http://127.0.0.1:8080/v1/chat/completions")
    again = pool._target("http://127.0.0.1:8080/v1/chat/completions")
    other = pool._target("http://127.0.0.1:8080/v1/embeddings")
    assert first == again and first[1] == "/v1/chat/completions"
    assert other[0] is first[0] and other[1] == "/v1/embeddings"
    assert first[0].host == "127.0.0.1" and first[0].port == 8080


def test_a_url_with_a_query_or_user_info_is_not_kept() -> None:
    """A query (Gemini's ``?key=``) or user info can hold a caller's own key: split every time."""
    pool = HttpPool()
    origin, target = pool._target("https://example.com/v1beta/models/m:generateContent?key=AIza-caller-key")
    assert target == "/v1beta/models/m:generateContent?key=AIza-caller-key"
    assert origin.tls and origin.port == 443
    pool._target("https://user:secret-pass@example.com/v1/chat/completions")
    assert not any("AIza" in url or "secret-pass" in url for url in pool._targets)
    assert pool._targets == {}
