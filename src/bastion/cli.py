"""The ``bastion`` command."""

from __future__ import annotations

import argparse
import functools
import gc
import shutil
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bastion import __version__
from bastion.domain.errors import ConfigError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``bastion`` command line: every subcommand and option, each with help and an example."""
    parser = argparse.ArgumentParser(
        prog="bastion",
        description="Bastion, a self-hosted LLM gateway.",
        epilog=_examples(
            "bastion serve --config examples/demo.yaml",
            "bastion keys create --config config.yaml --alias ci-bot --max-budget 10",
            "bastion <command> --help",
        ),
        formatter_class=_Formatter,
    )
    parser.add_argument("--version", action="version", version=f"bastion {__version__}", help=_VERSION)
    commands = parser.add_subparsers(dest="command", required=True, metavar="<command>")

    serve = _command(
        commands,
        "serve",
        "start the gateway",
        "bastion serve --config config.yaml --host 0.0.0.0 --port 4000 --workers 2",
    )
    _config(serve)
    serve.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port to listen on (default 4000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes sharing the port (default 1)")

    serve.add_argument("--no-migrate", action="store_true", help="do not apply database migrations at start")
    # A worker of ``--workers N`` (bastion.server.supervisor): the read end of the pipe it watches
    # for its supervisor's death, and the write end of the pipe it reports its start on.
    serve.add_argument("--worker-of", type=int, default=None, help=argparse.SUPPRESS)
    serve.add_argument("--ready-fd", type=int, default=None, help=argparse.SUPPRESS)

    check = _command(
        commands,
        "check-config",
        "load a config file and list every problem found (exit 2 if any)",
        "bastion check-config --config config.yaml",
    )
    _config(check)

    migrate = _command(
        commands, "migrate", "apply database migrations and exit", "bastion migrate --config config.yaml"
    )
    _config(migrate)

    rotate = _command(
        commands,
        "rotate-encryption-key",
        "re-encrypt every stored provider key with the newest encryption key",
        "ENCRYPTION_KEY=new,old bastion rotate-encryption-key --config config.yaml",
    )
    _config(rotate)

    keys = _group(commands, "keys", "manage virtual keys", "bastion keys list --config config.yaml")
    create = _command(
        keys,
        "keys create",
        "create a virtual key and print it (once); checked as POST /key/generate checks it",
        "bastion keys create --config config.yaml --alias ci-bot --team acme --duration 30d --max-budget 25",
    )
    _config(create)
    create.add_argument("--alias", dest="key_alias", help="a unique name for the key, such as ci-bot")
    create.add_argument(
        "--team", dest="team_id", help="team (org) id; the team must exist (bastion teams create)"
    )
    create.add_argument("--user", dest="user_id", help="user (session) id")
    create.add_argument("--duration", help="lifetime such as 30m, 24h, 30d (default: never expires)")
    create.add_argument("--models", help="comma-separated model groups (default: all, or the team's)")
    _budget_and_limits(create)

    listed = _command(
        keys,
        "keys list",
        "the keys as a table (masked names, never the keys)",
        "bastion keys list --config config.yaml --team acme --limit 20",
    )
    _config(listed)
    listed.add_argument("--team", dest="team_id", help="only this team's keys")
    listed.add_argument("--user", dest="user_id", help="only this user's keys")
    _limit(listed, 50)
    nouns: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    for noun, text in (("teams", "teams (orgs)"), ("users", "users")):
        nouns[noun] = sub = _group(commands, noun, f"see {text}", f"bastion {noun} list --config config.yaml")
        listed = _command(
            sub,
            f"{noun} list",
            f"the {text} as a table",
            f"bastion {noun} list --config config.yaml --limit 20",
        )
        _config(listed)
        _limit(listed, 50)
    team = _command(
        nouns["teams"],
        "teams create",
        "create a team and print it; checked as POST /team/new checks it",
        "bastion teams create --config config.yaml --id acme --alias 'Acme Inc' --max-budget 100 "
        "--budget-duration 1mo",
    )
    _config(team)
    team.add_argument("--id", dest="team_id", help="the team's id (default: generated)")
    team.add_argument("--alias", dest="team_alias", help="a display name, such as 'Acme Inc'")
    team.add_argument("--models", help="comma-separated model groups the team's keys may use (default: all)")
    _budget_and_limits(team)

    spend = _command(
        commands,
        "spend",
        "spend by team, user, key or model as a table",
        "bastion spend --config config.yaml --by key --since 7d --team acme",
    )
    _config(spend)
    spend.add_argument(
        "--by",
        choices=["team", "user", "key", "model"],
        default="team",
        help="what to group by (default team)",
    )
    spend.add_argument("--since", help="a duration such as 24h, 7d or 1mo (default: all time)")
    spend.add_argument("--team", dest="team_id", help="only this team's spend")
    spend.add_argument("--model", help="only this model group's spend")
    spend.add_argument(
        "--limit", type=int, default=50, help="at most this many rows, largest first (default 50)"
    )

    worker = _command(
        commands,
        "worker",
        "run the billing and outbox workers (a line of counts per pass that did something)",
        "bastion worker --config config.yaml --once",
    )
    _config(worker)
    worker.add_argument("--once", action="store_true", help="process everything pending, then exit")

    billing = _group(
        commands,
        "billing",
        "billing events: status, retry, cancel",
        "bastion billing status --config config.yaml",
    )
    status = _command(
        billing,
        "billing status",
        "totals per org and the latest events",
        "bastion billing status --config config.yaml --status parked --limit 50",
    )
    _config(status)
    status.add_argument("--team", dest="team_id", help="only this team's (org's) events")
    status.add_argument(
        "--status",
        choices=["pending", "delivered", "parked", "cancelled"],
        help="only events in this state",
    )
    _limit(status, 20, "events")
    status.add_argument("--json", action="store_true", help="print the JSON GET /billing/events returns")
    for name, text in (("retry", "send a parked event again"), ("cancel", "give up on a parked event")):
        action = _command(billing, f"billing {name}", text, f"bastion billing {name} 42 --config config.yaml")
        action.add_argument("id", type=int, help="the event's id (see bastion billing status)")
        _config(action)

    sandbox = _command(
        commands,
        "opencode-config",
        "print the OpenCode config and env lines for a key",
        "bastion opencode-config --key sk-... --url https://llm.example.com",
    )
    sandbox.add_argument("--key", required=True, help="the virtual key the sandbox uses")
    sandbox.add_argument(
        "--url",
        default="http://localhost:4000",
        help="the gateway's public URL (default http://localhost:4000)",
    )
    sandbox.add_argument(
        "--model",
        default="mock-claude",
        help="the model group the agents use (default: the demo's mock-claude)",
    )
    return parser


_VERSION = "print the version and exit"
if TYPE_CHECKING:
    _Commands = argparse._SubParsersAction[argparse.ArgumentParser]


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """argparse's, with the terminal's width read once per process: argparse makes a formatter
    for every ``add_argument`` (some 80 at each start, each asking the terminal its size)."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, width=_terminal_width())


@functools.cache
def _terminal_width() -> int:
    return shutil.get_terminal_size().columns - 2  # as argparse's own default


def _examples(*lines: str) -> str:
    return "example" + ("s" if len(lines) > 1 else "") + ":\n" + "\n".join(f"  {line}" for line in lines)


def _command(commands: _Commands, path: str, text: str, example: str) -> argparse.ArgumentParser:
    """A subcommand (``path`` is its full name, such as ``keys create``) with its example."""
    return commands.add_parser(
        path.split()[-1],
        help=text,
        description=text[0].upper() + text[1:] + ".",
        epilog=_examples(example),
        formatter_class=_Formatter,
    )


def _group(commands: _Commands, name: str, text: str, example: str) -> _Commands:
    """A subcommand with subcommands of its own (``bastion keys create|list``)."""
    parser = _command(commands, name, text, example)
    return parser.add_subparsers(dest="action", required=True, metavar="<action>")


def _config(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", required=True, help="the LiteLLM-compatible config.yaml to use")


def _limit(parser: argparse.ArgumentParser, default: int, what: str = "rows") -> None:
    parser.add_argument(
        "--limit", type=int, default=default, help=f"at most this many {what} (default {default})"
    )


def _budget_and_limits(parser: argparse.ArgumentParser) -> None:
    """The options keys and teams share; text, read as the API reads the same JSON fields."""
    parser.add_argument("--max-budget", dest="max_budget", help="budget in USD, such as 25 or 2.5")
    parser.add_argument("--budget-duration", dest="budget_duration", help="budget period such as 30d or 1mo")
    parser.add_argument("--rpm", dest="rpm_limit", help="requests per minute, such as 60")
    parser.add_argument("--tpm", dest="tpm_limit", help="tokens per minute, such as 100000")
    parser.add_argument("--max-parallel", dest="max_parallel_requests", help="requests at once, such as 4")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        # Start-up creates some 100,000 objects that live as long as the process, and the cycle
        # collector would walk them again and again while they are made: a tenth of start-up.
        # The serving process turns it back on once it accepts connections (server/process.py).
        gc.disable()
        try:
            from bastion.commands.serving import serve

            return serve(
                args.config,
                host=args.host,
                port=args.port,
                workers=args.workers,
                migrate=not args.no_migrate,
                worker_of=None if args.worker_of is None else (args.worker_of, args.ready_fd),
            )
        finally:
            gc.enable()  # also when it stopped before serving (a config problem, a busy port)
    if args.command == "check-config":
        from bastion.commands.check_config import check_config

        return check_config(args.config)
    if args.command == "opencode-config":
        from bastion.commands.sandbox import print_sandbox_config

        return print_sandbox_config(args.url, args.key, args.model)
    return _with_settings(args)


def _with_settings(args: argparse.Namespace) -> int:
    """Commands that load the config and work on the database."""
    from bastion.domain.errors import BastionError
    from bastion.settings import load_settings

    try:
        settings = load_settings(args.config)
        if args.command == "migrate":
            from bastion.commands.migrate import run_migrate

            return run_migrate(settings)
        if args.command in ("worker", "billing"):
            from bastion.commands.billing import run_billing_command, run_worker

            if args.command == "worker":
                return run_worker(settings, once=args.once)
            return run_billing_command(settings, args.action, vars(args))
        if args.command == "rotate-encryption-key":
            from bastion.commands.encryption import rotate_encryption_key

            return rotate_encryption_key(settings)
        if args.command == "spend":
            from bastion.commands.spend import show_spend

            return show_spend(settings, vars(args))
        if args.command in ("keys", "teams", "users") and args.action == "list":
            from bastion.commands import listing

            show = {"keys": listing.list_keys, "teams": listing.list_teams, "users": listing.list_users}
            return show[args.command](settings, vars(args))
        if args.command == "teams":
            from bastion.commands.teams import create_team

            return create_team(settings, vars(args))
        from bastion.commands.keys import create_key

        return create_key(settings, vars(args))
    except (ConfigError, BastionError) as exc:
        for line in str(exc).splitlines():
            print(f"bastion: {line}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
