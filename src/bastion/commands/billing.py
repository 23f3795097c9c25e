"""``bastion worker`` and ``bastion billing``: run the billing workers, see and fix the outbox.

``bastion worker --config C`` runs the billing and outbox loops until SIGINT/SIGTERM;
``--once`` bills every unseen spend log, attempts every due event once, prints what it did and
exits. ``bastion billing status`` prints totals per org and the parked events; ``bastion billing
retry ID`` and ``bastion billing cancel ID`` act on a parked event (what the API's
``/billing/events/retry`` and ``/cancel`` do).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from typing import Any

import orjson

from bastion.administration import BillingFilter
from bastion.administration.offline import Offline, offline
from bastion.billing.workers import DrainReport
from bastion.commands.tables import table
from bastion.domain.errors import ConfigError
from bastion.settings import Settings
from bastion.settings.billing import BillingSettings
from bastion.tasks import spawn_service

__all__ = ["run_billing_command", "run_worker"]


def _billing(settings: Settings) -> BillingSettings:
    if settings.billing is None:
        raise ConfigError(f"{settings.source}: billing is off (add a billing_settings section)")
    return settings.billing


def run_worker(settings: Settings, *, once: bool) -> int:
    """``bastion worker [--once]``: logs as ``bastion serve`` does, with the same secrets redacted."""
    billing = _billing(settings)
    from bastion.observability.logging import configure_logging, shutdown_logging
    from bastion.settings.secret_values import secret_values

    configure_logging(
        level=settings.bastion.log_level,
        json_logs=settings.bastion.json_logs,
        secrets=secret_values(settings),
    )
    try:
        return _run_worker(settings, billing, once=once)
    finally:
        shutdown_logging()


def _run_worker(settings: Settings, billing: BillingSettings, *, once: bool) -> int:

    async def work(services: Offline) -> int:
        workers = services.billing_workers(billing)
        if once:
            unseen = await services.count_unbilled()

            def progress(report: DrainReport) -> None:  # a backlog is billed batch by batch
                print(f"\rbilling spend logs: {report.seen}/{unseen}", end="", flush=True)

            try:
                report = await workers.drain(progress)
            finally:
                await workers.stop()
            if report.seen:
                print()
            skipped = ", ".join(f"{reason} {count}" for reason, count in sorted(report.skipped.items()))
            print(
                f"billed {report.billed} of {report.seen} spend logs"
                + (f" (not billed: {skipped})" if skipped else "")
                + f"; {report.attempts} delivery attempts"
            )
            print(report.counts())
            return 0
        workers.on_pass = _print_pass
        loop = asyncio.get_running_loop()
        task = spawn_service(workers.run_forever(), name="bastion-worker")

        def on_signal() -> None:
            # The first signal lets the passes in progress finish; a second one cancels them.
            if workers.stopping:
                task.cancel()
            workers.request_stop()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        sinks = ", ".join(billing.sink_names) or "none"
        print(f"bastion worker: billing and outbox running (sinks: {sinks})", flush=True)
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return 0

    return offline(settings, work)


def _print_pass(name: str, report: DrainReport) -> None:
    """One line per pass that did something: ``billing pass: events built 3, ...`` (``seen`` and
    skips too for a billing pass; the attempts for an outbox pass)."""
    if name == "billing":
        skipped = sum(report.skipped.values())
        extra = f" (spend logs seen {report.seen}" + (f", not billed {skipped})" if skipped else ")")
    else:
        extra = f" (attempts {report.attempts})"
    print(f"{name} pass: {report.counts()}{extra}", flush=True)


def run_billing_command(settings: Settings, action: str, options: dict[str, Any]) -> int:
    """``bastion billing status|retry|cancel``."""
    _billing(settings)
    if action == "status":
        where = BillingFilter(team_id=options.get("team_id"), status=options.get("status"))
        report = offline(settings, lambda found: found.admin.billing.status(where, limit=options["limit"]))
        if options.get("json"):
            print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
        else:
            print(render_status(report))
        return 0

    async def act(services: Offline) -> dict[str, Any]:
        billing = services.admin.billing
        return await (billing.retry if action == "retry" else billing.cancel)(options["id"])

    event = offline(settings, act)
    print(f"billing event {event['id']} is now {event['status']}")
    return 0


def render_status(report: dict[str, Any]) -> str:
    """Totals per org, then the listed events, as aligned text tables."""
    lines = [f"spend logs not yet billed: {report['unbilled_spend_logs']}", ""]
    statuses = ("pending", "delivered", "parked", "cancelled")
    header = ["org", *statuses, "billed USD", "cost USD"]
    rows = [
        [
            org["team_id"],
            *(str(org.get(status, {}).get("events", 0)) for status in statuses),
            f"{org['amount']:.6f}",
            f"{org['cost']:.6f}",
        ]
        for org in report["totals"]
    ]
    lines += table(header, rows) if rows else ["no billing events"]
    events = report["events"]
    if events:
        lines.append("")
        header = ["id", "org", "status", "attempts", "amount USD", "request", "last error"]
        rows = [
            [
                str(e["id"]),
                e["team_id"],
                e["status"],
                str(e["attempts"]),
                f"{e['amount']:.6f}",
                e["request_id"],
                (e["last_error"] or "")[:60],
            ]
            for e in events
        ]
        lines += table(header, rows)
    return "\n".join(lines)
