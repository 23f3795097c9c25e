"""``bastion check-config``: load a config as ``bastion serve`` would, list every problem, and warn
about what is allowed but would fail later."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable

from bastion.domain.errors import ConfigError
from bastion.settings import Settings, load_settings
from bastion.settings.checks import deployments_without_credentials

__all__ = ["CHECKS", "check_config", "config_warnings", "counted"]

#: Checks run on a config that loaded: each returns one line per finding. A new check (route
#: collisions, ...) is one more entry here; ``bastion serve`` logs the same lines at start-up.
CHECKS: tuple[Callable[[Settings], Iterable[str]], ...] = (deployments_without_credentials,)


def config_warnings(settings: Settings) -> list[str]:
    """What every check in :data:`CHECKS` finds in ``settings``."""
    return [line for check in CHECKS for line in check(settings)]


def check_config(path: str) -> int:
    """Print every problem (exit status 2), or OK with the warnings (exit status 0)."""
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        problems = str(exc).splitlines()
        for line in problems:
            print(f"bastion: {line}", file=sys.stderr)
        print(f"{path}: {counted(len(problems), 'problem')}", file=sys.stderr)
        return 2
    warnings = config_warnings(settings)
    for line in warnings:
        print(f"bastion: warning: {line}", file=sys.stderr)
    shape = (
        f"{counted(len(settings.model_list), 'deployment')} in "
        f"{counted(len(settings.model_groups), 'model group')}"
    )
    print(f"{path}: OK ({shape}{', ' + counted(len(warnings), 'warning') if warnings else ''})")
    return 0


def counted(count: int, noun: str) -> str:
    """``1 deployment``, ``3 deployments``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"
