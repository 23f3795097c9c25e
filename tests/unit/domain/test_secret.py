"""Secret: a string wrapper that never shows its value when printed."""

from __future__ import annotations

import logging

import pytest

from bastion.domain.secret import Secret

_VALUE = "sk-very-secret-value-123"


def test_repr_and_str_hide_the_value() -> None:
    """repr(), str() and f-strings show stars, never the value."""
    secret = Secret(_VALUE)
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", "%s" % secret):  # noqa: UP031
        assert _VALUE not in shown
        assert "**********" in shown


def test_containers_and_logging_do_not_leak() -> None:
    """A secret inside a list, dict or a log message argument stays hidden."""
    secret = Secret(_VALUE)
    assert _VALUE not in repr([secret, {"key": secret}])
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "key=%s %r", (secret, secret), None)
    assert _VALUE not in record.getMessage()


def test_reveal_returns_the_value() -> None:
    """reveal() is the one way to read the value."""
    assert Secret(_VALUE).reveal() == _VALUE


def test_equality_and_hash_follow_the_value() -> None:
    """Secrets with the same value are equal and hash alike; a plain string is never equal."""
    assert Secret("a-b-c-d") == Secret("a-b-c-d")
    assert Secret("a-b-c-d") != Secret("other")
    assert Secret("a-b-c-d") != "a-b-c-d"
    assert len({Secret("a-b-c-d"), Secret("a-b-c-d")}) == 1


@pytest.mark.parametrize(("value", "truthy"), [("", False), ("x", True)])
def test_truthiness_follows_the_value(value: str, truthy: bool) -> None:
    """An empty secret is falsy, any other is truthy."""
    assert bool(Secret(value)) is truthy


def test_no_instance_dict_to_peek_through() -> None:
    """Secret uses slots, so vars() cannot expose the value."""
    with pytest.raises(TypeError):
        vars(Secret(_VALUE))
