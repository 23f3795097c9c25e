"""Resolution of LiteLLM's ``os.environ/NAME`` references, the only way a config reads the environment.

Any string value that starts with ``os.environ/`` is replaced by the variable's value, anywhere in
the tree. The replacement is an :class:`EnvString`, so typed readers know that ``"100"`` came from
the environment (where everything is a string) and may convert it to a number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bastion.domain.errors import ConfigError
from bastion.settings._problems import ConfigProblems
from bastion.settings._where import Where
from bastion.settings._yaml import YamlList, YamlMap

__all__ = ["ENV_PREFIX", "EnvString", "resolve_env_references"]

ENV_PREFIX = "os.environ/"


class EnvString(str):
    """A string read from an environment variable; ``variable`` is its name."""

    variable: str

    def __new__(cls, value: str, variable: str) -> EnvString:
        instance = super().__new__(cls, value)
        instance.variable = variable
        return instance


def resolve_env_references(value: Any, where: Where, environ: Mapping[str, str]) -> Any:
    """Replace every ``os.environ/NAME`` string under ``value`` (in place) and return ``value``.

    Every reference that cannot be resolved is reported, not only the first: the error raised then
    names them all, and each of them has been replaced by ``None`` (absent), so the caller may go on
    reading the rest.
    """
    problems: list[ConfigError] = []
    resolved = _resolve(value, where, environ, problems)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise ConfigProblems(problems)
    return resolved


def _resolve(value: Any, where: Where, environ: Mapping[str, str], problems: list[ConfigError]) -> Any:
    if isinstance(value, str):
        if not value.startswith(ENV_PREFIX):
            return value
        try:
            return _resolve_one(value, where, environ)
        except ConfigError as error:
            problems.append(error)
            return None
    if isinstance(value, YamlMap):
        for key, item in value.items():
            value[key] = _resolve(item, where.key(key, value.key_mark(key)), environ, problems)
    elif isinstance(value, YamlList):
        for index, item in enumerate(value):
            value[index] = _resolve(item, where.item(index, value.item_mark(index)), environ, problems)
    return value


def _resolve_one(reference: str, where: Where, environ: Mapping[str, str]) -> EnvString:
    name = reference[len(ENV_PREFIX) :]
    if not name or any(char.isspace() for char in name):
        raise where.error(f"'{reference}' is not a valid reference (write os.environ/VARIABLE_NAME)")
    found = environ.get(name)
    if found is None:
        raise where.error(f"environment variable {name} is not set")
    if not found:
        raise where.error(f"environment variable {name} is empty")
    return EnvString(found, name)
