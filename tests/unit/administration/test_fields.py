"""Typed, bounded reads of administration bodies and management queries: a wrong type or a value a
database backend could not store is a 400 naming the field, never the value."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bastion.administration.fields import Fields
from bastion.administration.keys import describe_key, token_of
from bastion.administration.text_input import body_from_text
from bastion.api.asgi import Request
from bastion.api.management._query import query_flag, query_int, query_time
from bastion.auth.keys import hash_key
from bastion.domain.errors import InvalidRequestError


def request(query: str) -> Request:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    scope = {"method": "GET", "path": "/", "headers": [], "query_string": query.encode()}
    return Request(scope, receive)


@pytest.mark.parametrize(
    ("read", "value"),
    [
        ("text", 5),
        ("text", "  "),
        ("count", True),
        ("count", -1),
        ("count", 1.5),
        ("money", "10"),
        ("money", float("nan")),
        ("money", -0.01),
        ("flag", "true"),
        ("names", ["a", 1]),
        ("names", [""]),
        ("mapping", []),
        ("objects", [1]),
        ("duration", "24"),
        # What one backend stores and the other refuses is refused on both.
        ("text", "a\x00b"),
        ("text", "x" * 256),
        ("count", 2**31),
        ("count", 2**63),
        ("count", 1.8446744073709552e19),
        ("money", 1e308),
        ("money", 100_000_000),
        ("names", ["gpt", "a\x00"]),
        ("names", ["m"] * 1001),
        ("mapping", {"a": "\x00"}),
        ("mapping", {"\x00": 1}),
        ("mapping", {"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}),
        ("objects", [{"a": "\x00"}]),
    ],
)
def test_a_wrong_value_is_a_400_naming_the_field(read: str, value: Any) -> None:
    """Each reader refuses a value of the wrong shape with param set to the field, value not echoed."""
    with pytest.raises(InvalidRequestError) as caught:
        getattr(Fields({"field": value}), read)("field")
    assert caught.value.param == "field" and caught.value.status == 400


def test_absent_and_null_read_as_none_and_good_values_pass() -> None:
    """null is "not sent"; whole floats are counts; durations are parsed; the largest values that
    both backends store pass."""
    fields = Fields(
        {
            "n": None,
            "count": 10.0,
            "money": 3,
            "d": " 24h ",
            "flag": False,
            "big": 2**31 - 1,
            "rich": 99_999_999,
        }
    )
    assert fields.text("n") is None and fields.count("missing") is None and not fields.given("n")
    assert fields.count("count") == 10 and fields.money("money") == 3.0
    assert str(fields.duration("d")) == "24h" and fields.flag("flag") is False
    assert fields.count("big") == 2**31 - 1 and fields.money("rich") == 99_999_999.0
    deep: object = "x"
    for _ in range(31):
        deep = {"a": deep}
    assert Fields({"m": deep}).mapping("m") == deep


def test_query_values_are_parsed_and_bounded() -> None:
    """Integers within bounds, true/false flags, dates (a bare end date includes its day) and times."""
    req = request("page=3&full=yes&start=2026-01-02&end=2026-01-02&at=2026-01-02T03:04:05")
    assert query_int(req, "page", 1, low=1, high=5) == 3 and query_int(req, "size", 10, low=1, high=5) == 10
    assert query_flag(req, "full", False) is True and query_flag(req, "other", True) is True
    assert query_time(req, "start") == datetime(2026, 1, 2, tzinfo=UTC)
    assert query_time(req, "end", end=True) == datetime(2026, 1, 3, tzinfo=UTC)
    assert query_time(req, "at") == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert query_time(req, "missing") is None
    with pytest.raises(InvalidRequestError):
        query_int(request("page=x"), "page", 1, low=1, high=5)
    with pytest.raises(InvalidRequestError):
        query_int(request("page=9"), "page", 1, low=1, high=5)
    for hostile in ("²", "9" * 5000, "--1", "1_0"):
        with pytest.raises(InvalidRequestError):
            query_int(request("page=" + hostile), "page", 1, low=1, high=5)
    with pytest.raises(InvalidRequestError):
        query_time(request("end=9999-12-31"), "end", end=True)


def test_keys_are_named_by_value_or_hash() -> None:
    """A raw sk- key is hashed, anything else is taken as the hash; messages show sk-...abcd only."""
    assert token_of("sk-abcdef123456") == hash_key("sk-abcdef123456")
    assert token_of("f" * 64) == "f" * 64
    assert describe_key("sk-abcdef123456") == "sk-...3456"
    assert describe_key("f" * 64).startswith("with hash ffffffffffff")


def test_text_input_reads_as_the_json_it_spells() -> None:
    """Form and option text become the API's JSON: numbers, lists; non-numbers stay text to be
    refused as the API refuses a string; empty fields are left out."""
    body = body_from_text(
        {
            "rpm_limit": " 10 ",
            "max_budget": "2.5",
            "tpm_limit": "ten",
            "max_parallel_requests": "1e999",
            "models": "a, b,,",
            "key_alias": "",
            "team_id": "org",
            "csrf_token": "x",
        },
        fields=(
            "rpm_limit",
            "max_budget",
            "tpm_limit",
            "max_parallel_requests",
            "models",
            "key_alias",
            "team_id",
        ),
    )
    assert body == {
        "rpm_limit": 10,
        "max_budget": 2.5,
        "tpm_limit": "ten",
        "max_parallel_requests": "1e999",
        "models": ["a", "b"],
        "team_id": "org",
    }
    for other in ("\u0661\u0660", "1_000"):  # other scripts' digits, Python's digit groups
        assert body_from_text({"rpm_limit": other}, fields=["rpm_limit"]) == {"rpm_limit": other}
