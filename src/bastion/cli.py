"""The ``bastion`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from bastion import __version__
from bastion.domain.errors import ConfigError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The ``bastion`` command line: every subcommand and option."""
    parser = argparse.ArgumentParser(prog="bastion", description="Bastion, a self-hosted LLM gateway.")
    parser.add_argument("--version", action="version", version=f"bastion {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="start the gateway")
    serve.add_argument("--config", required=True, help="LiteLLM-compatible config.yaml")
    serve.add_argument("--host", default=None, help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port to listen on (default 4000)")
    serve.add_argument("--workers", type=int, default=1, help="worker processes sharing the port (default 1)")

    serve.add_argument("--no-migrate", action="store_true", help="do not apply database migrations at start")
    # A worker of ``--workers N`` (bastion.server.supervisor): the read end of the pipe it watches
    # for its supervisor's death, and the write end of the pipe it reports its start on.
    serve.add_argument("--worker-of", type=int, default=None, help=argparse.SUPPRESS)
    serve.add_argument("--ready-fd", type=int, default=None, help=argparse.SUPPRESS)

    check = commands.add_parser("check-config", help="load a config file and report problems")
    check.add_argument("--config", required=True)

    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    migrate.add_argument("--config", required=True)

    rotate = commands.add_parser(
        "rotate-encryption-key", help="re-encrypt every stored provider key with the newest encryption key"
    )
    rotate.add_argument("--config", required=True)

    keys = commands.add_parser("keys", help="manage virtual keys").add_subparsers(
        dest="action", required=True
    )
    create = keys.add_parser(
        "create",
        help="create a virtual key and print it (once); checked as POST /key/generate checks it",
    )
    create.add_argument("--config", required=True)
    create.add_argument("--alias", dest="key_alias", help="a unique name for the key, such as ci-bot")
    create.add_argument(
        "--team", dest="team_id", help="team (org) id; the team must exist (bastion teams create)"
    )
    create.add_argument("--user", dest="user_id", help="user (session) id")
    create.add_argument("--duration", help="lifetime such as 30m, 24h, 30d (default: never expires)")
    create.add_argument("--models", help="comma-separated model groups (default: all, or the team's)")
    _budget_and_limits(create)

    listed = keys.add_parser("list", help="the keys as a table (masked names, never the keys)")
    listed.add_argument("--config", required=True)
    listed.add_argument("--team", dest="team_id")
    listed.add_argument("--user", dest="user_id")
    listed.add_argument("--limit", type=int, default=50)
    nouns: dict[str, argparse._SubParsersAction[argparse.ArgumentParser]] = {}
    for noun, text in (("teams", "teams (orgs)"), ("users", "users")):
        nouns[noun] = sub = commands.add_parser(noun, help=f"see {text}").add_subparsers(
            dest="action", required=True
        )
        listed = sub.add_parser("list", help=f"the {text} as a table")
        listed.add_argument("--config", required=True)
        listed.add_argument("--limit", type=int, default=50)
    team = nouns["teams"].add_parser(
        "create", help="create a team and print it; checked as POST /team/new checks it"
    )
    team.add_argument("--config", required=True)
    team.add_argument("--id", dest="team_id", help="the team's id (default: generated)")
    team.add_argument("--alias", dest="team_alias", help="a display name, such as 'Acme Inc'")
    team.add_argument("--models", help="comma-separated model groups the team's keys may use (default: all)")
    _budget_and_limits(team)

    spend = commands.add_parser("spend", help="spend by team, user, key or model as a table")
    spend.add_argument("--config", required=True)
    spend.add_argument("--by", choices=["team", "user", "key", "model"], default="team")
    spend.add_argument("--since", help="a duration such as 24h, 7d or 1mo (default: all time)")
    spend.add_argument("--team", dest="team_id", help="only this team's spend")
    spend.add_argument("--model", help="only this model group's spend")
    spend.add_argument("--limit", type=int, default=50, help="at most this many rows (largest first)")

    worker = commands.add_parser("worker", help="run the billing and outbox workers")
    worker.add_argument("--config", required=True)
    worker.add_argument("--once", action="store_true", help="process everything pending, then exit")

    billing = commands.add_parser("billing", help="billing events: status, retry, cancel").add_subparsers(
        dest="action", required=True
    )
    status = billing.add_parser("status", help="totals per org and the latest events")
    status.add_argument("--config", required=True)
    status.add_argument("--team", dest="team_id")
    status.add_argument("--status", choices=["pending", "delivered", "parked", "cancelled"])
    status.add_argument("--limit", type=int, default=20)
    status.add_argument("--json", action="store_true", help="print the JSON GET /billing/events returns")
    for name, text in (("retry", "send a parked event again"), ("cancel", "give up on a parked event")):
        action = billing.add_parser(name, help=text)
        action.add_argument("id", type=int)
        action.add_argument("--config", required=True)

    sandbox = commands.add_parser("opencode-config", help="print the OpenCode config and env lines for a key")
    sandbox.add_argument("--key", required=True)
    sandbox.add_argument("--url", default="http://localhost:4000", help="the gateway's public URL")
    sandbox.add_argument(
        "--model",
        default="mock-claude",
        help="the model group the agents use (default: the demo's mock-claude)",
    )
    return parser


def _budget_and_limits(parser: argparse.ArgumentParser) -> None:
    """The options keys and teams share; text, read as the API reads the same JSON fields."""
    parser.add_argument("--max-budget", dest="max_budget", help="USD")
    parser.add_argument("--budget-duration", dest="budget_duration", help="budget period such as 30d or 1mo")
    parser.add_argument("--rpm", dest="rpm_limit", help="requests per minute")
    parser.add_argument("--tpm", dest="tpm_limit", help="tokens per minute")
    parser.add_argument("--max-parallel", dest="max_parallel_requests", help="requests at once")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        from bastion.commands.serving import serve

        return serve(
            args.config,
            host=args.host,
            port=args.port,
            workers=args.workers,
            migrate=not args.no_migrate,
            worker_of=None if args.worker_of is None else (args.worker_of, args.ready_fd),
        )
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
