"""The recorder: the spend sinks before the answer's last byte, metrics and the log line right after."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from contextlib import contextmanager

from bastion.accounting.pricing import PriceBook
from bastion.accounting.recorder import UsageRecorder
from bastion.accounting.records import UsageRecord
from bastion.observability.metrics import Metrics


def _record(request_id: str = "req_1") -> UsageRecord:
    return UsageRecord(
        request_id=request_id, surface="openai", model_group="gpt", stream=False, started_at=0.0
    )


def _counted(metrics: Metrics) -> float:
    return float(metrics.requests.labels("openai", "gpt", "none", "200")._value.get())


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextmanager
def _captured(name: str, level: int) -> Iterator[_Lines]:
    """The records of logger ``name`` (attached to it directly: other tests may stop propagation)."""
    logger, lines = logging.getLogger(name), _Lines()
    saved = logger.level
    logger.addHandler(lines)
    logger.setLevel(level)
    try:
        yield lines
    finally:
        logger.removeHandler(lines)
        logger.setLevel(saved)


def test_in_the_event_loop_sinks_run_at_once_and_metrics_and_log_one_turn_later() -> None:
    metrics = Metrics()
    recorder = UsageRecorder(prices=PriceBook(), metrics=metrics)
    sunk: list[str] = []
    recorder.sinks.append(lambda rec: sunk.append(rec.request_id))

    with _captured("bastion.request", logging.INFO) as lines:

        async def handler() -> tuple[list[str], float, int]:
            recorder.record(_record())
            # What a handler does next, in the same turn: write its answer. The row is already in
            # the sink; nothing else has cost the answer any time yet.
            seen = (list(sunk), _counted(metrics), len(lines.records))
            await asyncio.sleep(0)  # the next turn of the loop (not a timed wait)
            return seen

        during = asyncio.run(handler())
    assert during == (["req_1"], 0.0, 0)
    assert _counted(metrics) == 1.0
    assert len(lines.records) == 1
    assert lines.records[0].fields["request_id"] == "req_1"  # type: ignore[attr-defined]


def test_without_a_loop_everything_runs_at_once() -> None:
    metrics = Metrics()
    recorder = UsageRecorder(prices=PriceBook(), metrics=metrics)
    recorder.record(_record())
    assert _counted(metrics) == 1.0


def test_a_failure_while_counting_is_logged_and_does_not_reach_the_loop() -> None:
    recorder = UsageRecorder(prices=PriceBook(), metrics=Metrics())
    failures: list[object] = []

    def explode(_: UsageRecord) -> None:
        raise RuntimeError("counter broke")

    recorder._count = explode  # type: ignore[method-assign]

    async def run() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: failures.append(context))
        recorder.record(_record("req_bad"))
        await asyncio.sleep(0)

    with _captured("bastion.accounting", logging.ERROR) as lines:
        asyncio.run(run())
    assert failures == []
    assert any("req_bad" in r.getMessage() for r in lines.records)


def test_the_deferred_log_line_still_redacts_the_calls_own_secrets() -> None:
    """The line is written a turn later, but in the call's context: a key chosen for the call
    (a user's own provider key) is still known to the redactor."""
    import io

    from bastion.domain.call_secrets import add_call_secret, begin_call_secrets
    from bastion.observability.logging import configure_logging, shutdown_logging

    stream = io.StringIO()
    logger = logging.getLogger("bastion")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    configure_logging(level="info", json_logs=True, stream=stream)
    recorder = UsageRecorder(prices=PriceBook(), metrics=Metrics())
    try:

        async def call() -> None:
            begin_call_secrets()
            add_call_secret("user-own-provider-key-0042")
            record = _record("req_own")
            record.end_user = "user-own-provider-key-0042"  # as if it had leaked into a field
            recorder.record(record)
            await asyncio.sleep(0)

        async def main() -> None:
            await asyncio.create_task(call())  # a task of its own, as a request is

        asyncio.run(main())
    finally:
        shutdown_logging()
        logger.handlers[:], level, logger.propagate = saved[0], saved[1], saved[2]
        logger.setLevel(level)
    text = stream.getvalue()
    assert '"request_id":"req_own"' in text
    assert "user-own-provider-key-0042" not in text


def test_metrics_count_each_request_under_its_own_labels_and_add_no_series_it_did_not_touch() -> None:
    """The recorder keeps the labelled children it looked up: repeated and interleaved requests still
    land on their own series, and a request without tokens, cost or a first token adds none."""
    from bastion.domain.usage import Usage

    metrics = Metrics()
    recorder = UsageRecorder(prices=PriceBook(), metrics=metrics, log_requests=False)

    def record(group: str, status: int, *, tokens: int = 0, stream: bool = False) -> None:
        rec = UsageRecord(request_id="r", surface="openai", model_group=group, stream=stream, started_at=0.0)
        rec.status, rec.provider, rec.cost_usd = status, "openai", 0.5 if tokens else 0.0
        rec.usage = Usage(input_tokens=tokens, output_tokens=tokens)
        rec.ttft_ms = 3.0 if stream else None
        recorder._account(rec)

    record("a", 200)
    text = metrics.render().decode()
    assert "bastion_tokens_total{" not in text and "bastion_time_to_first_token_seconds_count{" not in text
    assert "bastion_cost_usd_total{" not in text
    for _ in range(3):
        record("a", 200, tokens=5)
        record("b", 429)
        record("a", 200, tokens=2, stream=True)
    text = metrics.render().decode()
    assert (
        'bastion_requests_total{model_group="a",provider="openai",status="200",surface="openai"} 7.0' in text
    )
    assert (
        'bastion_requests_total{model_group="b",provider="openai",status="429",surface="openai"} 3.0' in text
    )
    assert 'bastion_tokens_total{kind="input",model_group="a",provider="openai"} 21.0' in text
    assert 'bastion_cost_usd_total{model_group="a",provider="openai"} 3.0' in text
    assert 'bastion_time_to_first_token_seconds_count{model_group="a"} 3.0' in text
    assert 'bastion_request_latency_seconds_count{model_group="a",stream="false"} 4.0' in text
