"""Collecting every problem of a configuration file, so one run of ``check-config`` lists them all.

Readers raise a :class:`ConfigProblem` (one line: file, line, key path, what is wrong) as before;
the loader reads each section, each deployment and each independent part of a section inside
:meth:`Problems.attempt`, which notes the problem and goes on with a neutral value. A problem at a
key path that already has one (a variable left unset, then the same key found missing) is noted
once. At the end, :meth:`Problems.raise_if_any` raises :class:`ConfigProblems` holding every line.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from bastion.domain.errors import ConfigError
from bastion.settings._yaml import Mark

__all__ = ["ConfigProblem", "ConfigProblems", "Problems"]

_T = TypeVar("_T")


class ConfigProblem(ConfigError):
    """One problem; ``path`` is the key path it is about (``model_list[1].litellm_params.api_key``)."""

    def __init__(self, message: str, path: str = "", mark: Mark | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.mark = mark
        #: Other key paths this problem explains (a problem found there later is not noted again).
        self.covers: tuple[str, ...] = ()


class ConfigProblems(ConfigError):
    """Every problem found in one file, one line each, in the order found; ``str()`` joins them."""

    def __init__(self, problems: Sequence[ConfigError]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))

    @property
    def lines(self) -> list[str]:
        return [str(problem) for problem in self.problems]


class Problems:
    """The problems found so far while reading one configuration."""

    def __init__(self) -> None:
        self._found: list[ConfigError] = []
        self._paths: set[str] = set()

    def add(self, error: ConfigError) -> None:
        """Note ``error`` (every problem it holds), skipping a second problem at a path already noted."""
        for problem in error.problems if isinstance(error, ConfigProblems) else (error,):
            path = getattr(problem, "path", "")
            if path and path in self._paths:
                continue
            self._paths.update(getattr(problem, "covers", ()))
            if path:
                self._paths.add(path)
            self._found.append(problem)

    def attempt(self, read: Callable[[], _T], fallback: _T) -> _T:
        """``read()``, or ``fallback`` once the problems it raised are noted."""
        try:
            return read()
        except ConfigError as error:
            self.add(error)
            return fallback

    def run(self, check: Callable[[], object]) -> None:
        """Run ``check`` (which returns nothing of use) and note what it raises."""
        self.attempt(check, None)

    def __bool__(self) -> bool:
        return bool(self._found)

    def raise_if_any(self) -> None:
        """Raise the problem found, or all of them in file order (by file, then line)."""
        if len(self._found) == 1:
            raise self._found[0]
        if self._found:
            raise ConfigProblems(sorted(self._found, key=_place))


def _place(problem: ConfigError) -> tuple[str, int]:
    mark = getattr(problem, "mark", None)
    if mark is None:
        return ("", 0)
    return (mark.file, mark.line or 0)
