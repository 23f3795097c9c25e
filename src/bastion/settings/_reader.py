"""Typed reads from the parsed configuration, each failure reported with file, line and key path.

A YAML ``null`` (``key:`` with nothing after it) counts as absent everywhere, as in LiteLLM. Values
that came from ``os.environ/`` are strings; numeric and boolean readers convert them.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

from bastion.domain.errors import ConfigError
from bastion.settings._environ import EnvString
from bastion.settings._problems import ConfigProblems
from bastion.settings._where import Where
from bastion.settings._yaml import YamlList, YamlMap

__all__ = ["ListReader", "MapReader", "describe", "freeze", "read_bool", "read_int", "read_number"]

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def describe(value: Any) -> str:
    """A person's name for a value's YAML type, never the value itself (it may be a secret)."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def _from_env(value: Any) -> str:
    return f" (from environment variable {value.variable})" if isinstance(value, EnvString) else ""


def read_int(value: Any, where: Where, *, minimum: int | None = 0) -> int:
    """An integer, or a string of one from the environment, at least ``minimum``."""
    result: int | None = None
    if isinstance(value, int) and not isinstance(value, bool):
        result = value
    elif isinstance(value, float) and value.is_integer():
        result = int(value)
    elif isinstance(value, EnvString):
        try:
            result = int(value.strip())
        except ValueError:
            result = None
    if result is None:
        raise where.error(f"must be a whole number, got {describe(value)}{_from_env(value)}")
    if minimum is not None and result < minimum:
        raise where.error(f"must be at least {minimum}, got {result}")
    return result


def read_number(value: Any, where: Where, *, minimum: float | None = 0.0, exclusive: bool = False) -> float:
    """A number, or a string of one from the environment; ``exclusive`` makes ``minimum`` a bound."""
    result: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        result = float(value)
    elif isinstance(value, EnvString):
        try:
            result = float(value.strip())
        except ValueError:
            result = None
    if result is None:
        raise where.error(f"must be a number, got {describe(value)}{_from_env(value)}")
    if not math.isfinite(result):
        raise where.error(f"must be a finite number, got {result}")
    if minimum is not None and (result <= minimum if exclusive else result < minimum):
        bound = "greater than" if exclusive else "at least"
        raise where.error(f"must be {bound} {minimum:g}, got {result:g}")
    return result


def read_bool(value: Any, where: Where) -> bool:
    """``true``/``false``, or a boolean word from the environment."""
    if isinstance(value, bool):
        return value
    if isinstance(value, EnvString):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
    raise where.error(f"must be true or false, got {describe(value)}{_from_env(value)}")


def freeze(value: Any) -> Any:
    """A read-only deep copy: mappings become read-only views, lists tuples, env strings plain."""
    if isinstance(value, dict):
        return MappingProxyType({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(freeze(item) for item in value)
    if isinstance(value, EnvString):
        return str(value)
    return value


class MapReader:
    """Typed access to one mapping of the configuration."""

    __slots__ = ("data", "where")

    def __init__(self, data: YamlMap, where: Where) -> None:
        self.data = data
        self.where = where

    @classmethod
    def of(cls, value: Any, where: Where) -> MapReader:
        """Wrap ``value``, which must be a mapping; ``null`` reads as an empty one."""
        if value is None:
            return cls(YamlMap(where.mark), where)
        if not isinstance(value, YamlMap):
            raise where.error(f"must be a mapping (key: value lines), got {describe(value)}")
        return cls(value, where)

    def at(self, key: str) -> Where:
        return self.where.key(key, self.data.key_mark(key))

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def __contains__(self, key: str) -> bool:
        return self.data.get(key) is not None

    def reject_unknown(self, known: frozenset[str], *, list_known: bool = True) -> None:
        """Raise naming every key not in ``known``, each with the closest known one suggested;
        with no close one, the known keys are listed (``list_known=False``: LiteLLM's long sections,
        whose keys the reference lists instead)."""
        unknown = [self._unknown(key, known, list_known) for key in self.data if key not in known]
        if len(unknown) == 1:
            raise unknown[0]
        if unknown:
            raise ConfigProblems(unknown)

    def _unknown(self, key: str, known: frozenset[str], list_known: bool) -> ConfigError:
        close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
        if close:
            problem = self.at(key).error(f"unknown key (did you mean '{close[0]}'?)")
            # A misspelt key explains the intended one's absence: "litellm_params is required".
            problem.covers = (self.where.key(close[0], self.where.mark).path,)
            return problem
        if list_known:
            return self.at(key).error(f"unknown key (expected one of: {', '.join(sorted(known))})")
        return self.at(key).error("unknown key (not a LiteLLM or Bastion setting)")

    def string(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.at(key).error(f"must be a string, got {describe(value)}")
        return str(value)

    def require_string(self, key: str) -> str:
        """A non-empty string that must be present."""
        value = self.string(key)
        if value is None:
            raise self.missing(key)
        if not value.strip():
            raise self.at(key).error("must not be empty")
        return value

    def integer(self, key: str, *, minimum: int | None = 0) -> int | None:
        value = self.data.get(key)
        return None if value is None else read_int(value, self.at(key), minimum=minimum)

    def number(self, key: str, *, minimum: float | None = 0.0, exclusive: bool = False) -> float | None:
        value = self.data.get(key)
        if value is None:
            return None
        return read_number(value, self.at(key), minimum=minimum, exclusive=exclusive)

    def boolean(self, key: str) -> bool | None:
        value = self.data.get(key)
        return None if value is None else read_bool(value, self.at(key))

    def mapping(self, key: str) -> MapReader | None:
        value = self.data.get(key)
        return None if value is None else MapReader.of(value, self.at(key))

    def require_mapping(self, key: str) -> MapReader:
        """A mapping that must be present."""
        value = self.data.get(key)
        if value is None:
            raise self.missing(key)
        return MapReader.of(value, self.at(key))

    def sequence(self, key: str) -> ListReader | None:
        value = self.data.get(key)
        return None if value is None else ListReader.of(value, self.at(key))

    def strings(self, key: str) -> tuple[str, ...] | None:
        """A list of non-empty strings."""
        items = self.string_items(key)
        return None if items is None else tuple(item for _, item in items)

    def string_items(self, key: str) -> list[tuple[Where, str]] | None:
        """A list of non-empty strings, each with its place (to blame one item later)."""
        items = self.sequence(key)
        if items is None:
            return None
        result: list[tuple[Where, str]] = []
        for where, item in items:
            if not isinstance(item, str) or not item:
                raise where.error(f"must be a non-empty string, got {describe(item)}")
            result.append((where, str(item)))
        return result

    def string_map(self, key: str) -> dict[str, str] | None:
        """A mapping of strings to strings (numbers are accepted as values and converted)."""
        section = self.mapping(key)
        if section is None:
            return None
        result: dict[str, str] = {}
        for name, value in section.data.items():
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise section.at(name).error(f"must be a string, got {describe(value)}")
            result[name] = str(value)
        return result

    def missing(self, key: str, message: str = "is required") -> ConfigError:
        """The error for an absent key, placed where this mapping is named."""
        return self.where.key(key, self.where.mark).error(message)


class ListReader:
    """Iteration over one list of the configuration, yielding each item with its :class:`Where`."""

    __slots__ = ("data", "where")

    def __init__(self, data: YamlList, where: Where) -> None:
        self.data = data
        self.where = where

    @classmethod
    def of(cls, value: Any, where: Where) -> ListReader:
        if not isinstance(value, YamlList):
            raise where.error(f"must be a list (lines starting with '- '), got {describe(value)}")
        return cls(value, where)

    def __len__(self) -> int:
        return len(self.data)

    def __iter__(self) -> Iterator[tuple[Where, Any]]:
        for index, item in enumerate(self.data):
            yield self.where.item(index, self.data.item_mark(index)), item
