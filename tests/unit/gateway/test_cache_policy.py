"""Who decides whether a request uses the response cache: config, key, team, request."""

from __future__ import annotations

from typing import Any

from bastion.domain.principal import Principal
from bastion.gateway.cache import ResponseCache
from bastion.gateway.cache_store import MemoryCacheStore
from bastion.observability.metrics import Metrics
from bastion.settings import CacheSettings

BODY = {"messages": [{"role": "user", "content": "hi"}]}
KEY = Principal("virtual_key", "k", "hash-1", team_id="t1")


def cache(**settings: Any) -> ResponseCache:
    return ResponseCache(CacheSettings(enabled=True, **settings), MemoryCacheStore(10), Metrics())


def ticket(
    c: ResponseCache, *, who: Principal = KEY, headers: dict[str, str] | None = None, **kw: Any
) -> Any:
    body = BODY | kw.pop("body", {})
    return c.ticket(principal=who, headers=headers or {}, body=body, surface="openai", group="g", **kw)


def test_disabled_cache_and_several_choices_stay_out() -> None:
    assert (
        ResponseCache(CacheSettings(), MemoryCacheStore(1), Metrics()).ticket(
            principal=KEY, headers={}, body=BODY, surface="openai", group="g"
        )
        is None
    )
    assert ticket(cache(), body={"n": 2}) is None
    assert ticket(cache(), body={"n": 1}) is not None


def test_request_controls() -> None:
    c = cache(ttl=600)
    plain = ticket(c)
    assert (plain.lookup, plain.store, plain.ttl, plain.max_age) == (True, True, 600, None)
    no_cache = ticket(c, headers={"cache-control": "no-cache"})
    assert (no_cache.lookup, no_cache.store) == (False, True)
    no_store = ticket(c, control={"no-store": True, "ttl": 5, "s-maxage": 9})
    assert (no_store.lookup, no_store.store, no_store.ttl, no_store.max_age) == (True, False, 5, 9)
    assert ticket(c, headers={"cache-control": "no-cache, no-store"}) is None


def test_key_metadata_wins_over_team_metadata() -> None:
    c = cache(ttl=600)
    team_off = Principal("virtual_key", "k", "h", team_id="t1", team_metadata={"cache": {"enabled": False}})
    assert ticket(c, who=team_off) is None
    key_on = Principal(
        "virtual_key", "k", "h", team_id="t1", metadata={"cache": {"ttl": 30}}, team_metadata={"cache": False}
    )
    assert ticket(c, who=key_on).ttl == 30


def test_default_off_needs_the_request_or_the_key_to_ask() -> None:
    c = cache(mode="default_off")
    assert ticket(c) is None
    assert ticket(c, control={"use-cache": True}) is not None
    assert (
        ticket(c, who=Principal("virtual_key", "k", "h", metadata={"cache": {"enabled": True}})) is not None
    )


def test_scopes() -> None:
    other_key_same_team = Principal("virtual_key", "k2", "hash-2", team_id="t1")
    assert ticket(cache(scope="key")).key != ticket(cache(scope="key"), who=other_key_same_team).key
    assert ticket(cache(scope="team")).key == ticket(cache(scope="team"), who=other_key_same_team).key
    no_team = Principal("virtual_key", "k3", "hash-3")
    assert ticket(cache(scope="team"), who=no_team).key != ticket(cache(scope="team")).key
    assert ticket(cache(scope="global"), who=no_team).key == ticket(cache(scope="global")).key
