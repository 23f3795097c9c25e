"""Every ``bastion`` subcommand and option explains itself: a help line, and an example to copy.

The walk goes through the parser ``bastion`` itself builds, so a subcommand or an option added
later without help (or a subcommand without an example) fails here.
"""

from __future__ import annotations

import argparse
import contextlib
import io

import pytest

from bastion.cli import build_parser


def _subcommands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    found = [(path, parser)]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _subcommands(sub, (*path, name))
    return found


COMMANDS = _subcommands(build_parser())
LEAVES = [
    (path, parser)
    for path, parser in COMMANDS
    if path and not any(isinstance(a, argparse._SubParsersAction) for a in parser._actions)
]


def _help_of(path: tuple[str, ...]) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as stop:
        build_parser().parse_args([*path, "--help"])
    assert stop.value.code == 0
    return out.getvalue()


def test_the_walk_finds_every_command() -> None:
    names = {" ".join(path) for path, _ in LEAVES}
    assert {"serve", "worker", "keys create", "keys list", "teams create", "billing retry"} <= names
    assert len(LEAVES) >= 15


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS], ids=lambda p: " ".join(p) or "bastion")
def test_every_command_has_help_and_an_example(path: tuple[str, ...]) -> None:
    text = _help_of(path)
    assert "example" in text.lower(), f"bastion {' '.join(path)} --help shows no example"
    if path:
        # Each example is a command line of this very subcommand, ready to copy.
        assert f"bastion {' '.join(path)}" in text.split("xample", 1)[1], text


@pytest.mark.parametrize("path", [path for path, _ in COMMANDS if path], ids=" ".join)
def test_every_subcommand_is_described_by_its_parent(path: tuple[str, ...]) -> None:
    parent = dict(COMMANDS)[path[:-1]]
    for action in parent._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {choice.dest: choice.help for choice in action._choices_actions}
            assert helps.get(path[-1]), f"bastion {' '.join(path)} has no help line in its parent's list"


@pytest.mark.parametrize("path", [path for path, _ in LEAVES], ids=" ".join)
def test_every_option_and_argument_has_help(path: tuple[str, ...]) -> None:
    parser = dict(COMMANDS)[path]
    missing = [
        "/".join(action.option_strings) or action.dest
        for action in parser._actions
        if not isinstance(action, argparse._HelpAction)
        and action.help != argparse.SUPPRESS
        and not (action.help or "").strip()
    ]
    assert not missing, f"bastion {' '.join(path)}: no help for {', '.join(missing)}"
