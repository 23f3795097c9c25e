"""Redacting JSON logs written through a queue: Redactor, JsonFormatter, configure_logging."""

from __future__ import annotations

import io
import logging
import sys
from collections.abc import Iterator

import orjson
import pytest

from bastion.observability.logging import (
    JsonFormatter,
    Redactor,
    configure_logging,
    log_fields,
    request_logger,
    shutdown_logging,
)

_CONFIGURED = ("bastion", "uvicorn", "uvicorn.error", "uvicorn.access")


@pytest.fixture
def restore_loggers() -> Iterator[None]:
    """Put back the handlers and levels configure_logging changes, and stop its writer thread."""
    saved = {
        name: (logger.handlers[:], logger.level, logger.propagate, logger.disabled)
        for name in _CONFIGURED
        for logger in [logging.getLogger(name)]
    }
    yield
    shutdown_logging()
    for name, (handlers, level, propagate, disabled) in saved.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
        logger.disabled = disabled


def record(msg: str, *args: object, fields: dict[str, object] | None = None) -> logging.LogRecord:
    made = logging.LogRecord("bastion.test", logging.WARNING, __file__, 1, msg, args, None)
    if fields is not None:
        made.fields = fields
    return made


def test_configured_secret_values_are_removed() -> None:
    """Every configured secret value is replaced, wherever it appears in the text."""
    redact = Redactor(["hunter2-password", "xoxb-slack-token-value"])
    out = redact("db=hunter2-password, slack=xoxb-slack-token-value; again hunter2-password")
    assert "hunter2" not in out
    assert "xoxb" not in out
    assert out.count("[REDACTED]") == 3


def test_longer_secret_is_redacted_before_its_prefix() -> None:
    """When one secret contains another, the longer one is removed whole."""
    redact = Redactor(["abcd", "abcdefgh-long"])
    assert redact("x abcdefgh-long y") == "x [REDACTED] y"


def test_tiny_and_empty_secrets_are_ignored() -> None:
    """Secrets shorter than 4 characters are not redacted (they would mangle ordinary text)."""
    redact = Redactor(["", "abc"])
    assert redact("abc abcabc") == "abc abcabc"


def test_bearer_token_is_redacted_but_the_scheme_kept() -> None:
    """``Bearer <token>`` keeps the word Bearer and loses the token, in any case."""
    out = Redactor()("authorization: Bearer eyJhbGciOi.JIUzI1NiJ9.payload, bearer opaque-token-1234")
    assert "eyJ" not in out
    assert "opaque-token" not in out
    assert "Bearer [REDACTED]" in out
    assert "bearer [REDACTED]" in out


@pytest.mark.parametrize(
    "key",
    [
        "sk-proj-abcdefghijklmnop1234",
        "sk-ant-api03-AbCdEfGh_ij-klmn",
        "am_sk-0123456789abcdef",
        "AIzaSyA1234567890abcdefghijklmnopqrs",
        "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJlLWJ5dGVz",
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJtYWxsb3J5In0.",
        "bt_eyJ2IjoxLCJqdGkiOiI4YmI4In0.H18i-mJBmNKK3E2dAlt2zG-aiuUVN1wub4mCed2tvs4",
    ],
)
def test_key_shaped_strings_are_redacted(key: str) -> None:
    """OpenAI/Anthropic ``sk-...`` keys, Bastion keys, Google ``AIza...`` keys, JWTs and browser
    tokens are removed."""
    out = Redactor()(f'{{"api_key": "{key}", "note": "ok"}}')
    assert key not in out
    assert key[6:] not in out
    assert '"note": "ok"' in out


@pytest.mark.parametrize(
    "text",
    [
        "request finished in 12 ms with status 200",
        "model gpt-4.1-mini answered; task-12345678 done",
        "ask-me-anything is a model group",
        "Bearer",
        "AIza too short",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    """Text with no secret and no key shape passes through unchanged."""
    assert Redactor(["s3cr3t-value"])(text) == text


def test_json_formatter_writes_one_json_line_with_fields() -> None:
    """The formatter emits one JSON object on one line, with the ``fields`` extra merged in."""
    formatter = JsonFormatter(Redactor())
    line = formatter.format(record("done %s\nsecond line", "req-1", fields={"status": 200, "model": "gpt"}))
    assert "\n" not in line
    entry = orjson.loads(line)
    assert entry["msg"] == "done req-1\nsecond line"
    assert entry["level"] == "warning"
    assert entry["logger"] == "bastion.test"
    assert entry["status"] == 200
    assert entry["model"] == "gpt"
    assert entry["ts"].endswith("Z")


def test_json_formatter_redacts_message_and_fields() -> None:
    """Secrets in the message and in field values do not reach the output."""
    formatter = JsonFormatter(Redactor(["upstream-secret-1"]))
    line = formatter.format(
        record("key upstream-secret-1", fields={"auth": "Bearer abcdefghijkl", "k": "sk-abcdefghijkl"})
    )
    assert "upstream-secret-1" not in line
    assert "abcdefghijkl" not in line
    assert orjson.loads(line)["msg"] == "key [REDACTED]"


@pytest.mark.parametrize(
    "secret", ['pa"ss-word', "pa\\ss-word", "pa\tss-word"], ids=["quote", "backslash", "tab"]
)
def test_secrets_that_json_escapes_are_still_redacted(secret: str) -> None:
    """A secret containing a character JSON escapes is removed from the encoded line too."""
    line = JsonFormatter(Redactor([secret])).format(record("pw=%s", secret, fields={"pw": secret}))
    assert orjson.loads(line)["msg"] == "pw=[REDACTED]"
    assert orjson.loads(line)["pw"] == "[REDACTED]"


def test_json_formatter_includes_the_exception() -> None:
    """A record logged with exc_info carries the formatted traceback in ``exc``."""
    try:
        raise ValueError("boom")
    except ValueError:
        made = record("failed")
        made.exc_info = sys.exc_info()
    entry = orjson.loads(JsonFormatter(Redactor()).format(made))
    assert "ValueError: boom" in entry["exc"]


def test_json_formatter_serialises_unusual_field_values() -> None:
    """Field values orjson cannot encode natively are written with str()."""
    line = JsonFormatter(Redactor()).format(record("x", fields={"cost": complex(1, 2)}))
    assert orjson.loads(line)["cost"] == "(1+2j)"


@pytest.mark.usefixtures("restore_loggers")
def test_configure_logging_writes_redacted_json_lines_to_the_stream() -> None:
    """Records logged under ``bastion`` reach the stream as redacted JSON once the queue is flushed."""
    stream = io.StringIO()
    configure_logging(level="info", json_logs=True, secrets=["master-key-123456"], stream=stream)
    request_logger().info("request", extra={"fields": {"key": "master-key-123456", "status": 200}})
    logging.getLogger("bastion.test").debug("below the level")
    logging.getLogger("bastion.test").warning("second")
    shutdown_logging()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (orjson.loads(line) for line in lines)
    assert first["logger"] == "bastion.request"
    assert first["key"] == "[REDACTED]"
    assert first["status"] == 200
    assert second["msg"] == "second"
    assert "master-key-123456" not in stream.getvalue()


@pytest.mark.usefixtures("restore_loggers")
def test_the_direct_request_line_is_the_line_the_logging_module_writes() -> None:
    """``log_fields`` skips the logging module when nothing but Bastion's handler listens, and its
    line is the same (redaction included) as ``logger.info(..., extra=fields)`` gives; a handler
    added to the logger (a test's capture, an embedding application) still gets the record."""
    stream = io.StringIO()
    configure_logging(level="info", json_logs=True, secrets=["master-key-123456"], stream=stream)
    fields = {"key": "master-key-123456", "status": 200, "cost": 0.25, "who": "sk-abcdefghijkl"}
    log_fields(request_logger(), "request", fields)
    request_logger().info("request", extra={"fields": fields})
    captured: list[logging.LogRecord] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            captured.append(record)

    capture = Capture()
    request_logger().addHandler(capture)
    try:
        log_fields(request_logger(), "request", {"status": 201})
    finally:
        request_logger().removeHandler(capture)
    shutdown_logging()
    direct, through, third = (orjson.loads(line) for line in stream.getvalue().splitlines())
    assert {k: v for k, v in direct.items() if k != "ts"} == {k: v for k, v in through.items() if k != "ts"}
    assert direct["key"] == "[REDACTED]" and direct["who"] == "[REDACTED]"
    assert direct["logger"] == "bastion.request" and direct["level"] == "info"
    assert third["status"] == 201
    assert [getattr(r, "fields", None) for r in captured] == [{"status": 201}]


@pytest.mark.usefixtures("restore_loggers")
def test_configure_logging_text_mode_is_redacted_too() -> None:
    """With json_logs off, lines are plain text with the fields appended, still redacted."""
    stream = io.StringIO()
    configure_logging(level="debug", json_logs=False, secrets=["master-key-123456"], stream=stream)
    logging.getLogger("bastion.test").info("using master-key-123456", extra={"fields": {"n": 1}})
    shutdown_logging()
    text = stream.getvalue()
    assert "master-key-123456" not in text
    assert "INFO bastion.test: using [REDACTED]" in text
    assert text.rstrip().endswith('{"n":1}')


@pytest.mark.usefixtures("restore_loggers")
def test_configure_logging_silences_uvicorn_access_and_stops_propagation() -> None:
    """uvicorn's access log is disabled and configured loggers do not also log through the root."""
    configure_logging(stream=io.StringIO())
    assert logging.getLogger("uvicorn.access").disabled
    assert not logging.getLogger("bastion").propagate
    assert logging.getLogger("bastion").level == logging.INFO


@pytest.mark.usefixtures("restore_loggers")
def test_reconfiguring_replaces_the_previous_stream() -> None:
    """Calling configure_logging again sends later lines only to the new stream."""
    old, new = io.StringIO(), io.StringIO()
    configure_logging(stream=old)
    logging.getLogger("bastion.test").info("one")
    configure_logging(stream=new)
    logging.getLogger("bastion.test").info("two")
    shutdown_logging()
    assert [orjson.loads(line)["msg"] for line in old.getvalue().splitlines()] == ["one"]
    assert [orjson.loads(line)["msg"] for line in new.getvalue().splitlines()] == ["two"]


def test_a_key_chosen_for_the_call_is_redacted_from_its_log_lines() -> None:
    """A user's own provider key is in no config, so only the call that chose it knows it."""
    import contextvars

    from bastion.domain.call_secrets import add_call_secret, begin_call_secrets

    redact = Redactor(["configured-secret-0001"])
    line = 'upstream said: bad key my-own-key-0042 "my-own-key-0042"'

    def in_call() -> str:
        begin_call_secrets()
        add_call_secret("my-own-key-0042")
        return redact(line)

    assert "my-own-key-0042" not in contextvars.copy_context().run(in_call)
    assert redact(line) == line  # outside that call it is nobody's secret


# ---------------------------------------------------------------------- the cheap paths keep every guarantee


def _reference(secrets: list[str], text: str) -> str:
    """The redaction as it was before its fast paths: one regex of every secret, then the shapes."""
    import re

    from bastion.observability.logging import _KEY_SHAPES, _redact_match

    found: set[str] = set()
    for secret in secrets:
        if secret and len(secret) >= 4:
            found.add(secret)
            found.add(orjson.dumps(secret).decode()[1:-1])
    values = sorted(found, key=len, reverse=True)
    if values:
        text = re.compile("|".join(re.escape(v) for v in values)).sub("[REDACTED]", text)
    return _KEY_SHAPES.sub(_redact_match, text)


@pytest.mark.parametrize(
    "key",
    [
        "SK-PROJ-ABCDEFGHIJKLMNOP1234",
        "Sk-Ant-Api03-AbCdEfGh_ij",
        "AM_SK-0123456789ABCDEF",
        "aizaSyA1234567890abcdefghijklmnopqrs",
        "EYJHBGCIOIJFUZI1NIJ9.EYJZDWIIOIJHZGEIFQ.C2LNBMF0",
        "BT_EYJ2IJOXLCJQDGKIOII4YMI4IN0.H18I-MJBMNKK3E2DALT2ZG",
        "RK-live-0123456789",
        "pk-test-0123456789",
    ],
)
def test_key_shapes_in_any_case_are_redacted(key: str) -> None:
    """The shapes match in any letter case (the fast check lower-cases before it looks)."""
    out = Redactor()(f'{{"label": "{key}", "note": "ok"}}')
    assert key not in out
    assert key[7:] not in out
    assert '"note": "ok"' in out


def test_bearer_in_any_case_is_redacted() -> None:
    out = Redactor()('{"auth": "BeArEr opaque-token-1234", "other": "BEARER another-token-99"}')
    assert "opaque-token" not in out
    assert "another-token" not in out
    assert "BeArEr [REDACTED]" in out


def test_many_secrets_sharing_a_prefix_are_each_redacted() -> None:
    """A hundred provider keys that all start with ``sk-``, and some that do not: every one goes."""
    secrets = [f"sk-provider-{i:03d}-{'x' * (i % 7)}tail" for i in range(100)]
    secrets += [f"plain-secret-{i:03d}" for i in range(20)] + ['ab"cd-quoted', "\u00e9t\u00e9-secret-1"]
    redact = Redactor(secrets)
    for secret in secrets:
        line = orjson.dumps({"value": secret, "msg": f"x {secret} y"}).decode()
        out = redact(line)
        assert secret not in out, secret
        assert orjson.dumps(secret).decode()[1:-1] not in out, secret
        assert orjson.loads(out)["value"] == "[REDACTED]"


def test_a_secret_that_is_only_json_escaped_on_the_line_is_redacted() -> None:
    """The escaped form shares no prefix with the raw one when the quote comes first."""
    secret = '"quoted-first-secret'
    line = JsonFormatter(Redactor([secret])).format(record("x", fields={"v": secret}))
    assert orjson.loads(line)["v"] == "[REDACTED]"
    assert "quoted-first-secret" not in line


def test_the_fast_redactor_equals_the_plain_regex_on_a_random_corpus() -> None:
    """Across thousands of lines built from secrets, near-misses, key shapes in mixed case and
    filler, the redactor gives exactly what one regex over every secret and shape gives."""
    import random

    rng = random.Random(15)
    secrets = ["sk-bench-master", "sk-upstream-bench", "hunter2-password", "abcd", "ab\\cd-slash", 'x"y-q']
    pieces = [
        *secrets,
        "sk-bench-maste",  # a near miss
        "SK-upstream-bench",
        "Bearer ",
        "bearer\t",
        "BEARER ",
        "sk-",
        "am_sk-",
        "AIza",
        "eyJ",
        "bt_",
        ".",
        "-",
        "_",
        " ",
        '"',
        "\\",
        "abcdefghij",
        "0123456789",
        "ZYXWVUTSRQPONM",
        "task-",
        "risk-model",
        "é",
    ]
    redact = Redactor(secrets)
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 14)))
        line = orjson.dumps({"msg": text}).decode() if rng.random() < 0.5 else text
        assert redact(line) == _reference(secrets, line), line


def test_a_line_below_the_level_builds_no_fields() -> None:
    """The request line's fields are not even built when INFO is not logged."""
    from bastion.accounting.pricing import PriceBook
    from bastion.accounting.recorder import UsageRecorder
    from bastion.accounting.records import UsageRecord
    from bastion.observability.metrics import Metrics

    built: list[bool] = []

    class Counted(UsageRecord):
        __slots__ = ()

        def to_log_fields(self) -> dict[str, object]:
            built.append(True)
            return super().to_log_fields()

    logger = logging.getLogger("bastion.request")
    saved = logger.level
    recorder = UsageRecorder(prices=PriceBook(), metrics=Metrics())
    try:
        logger.setLevel(logging.WARNING)
        recorder.record(
            Counted(request_id="r1", surface="openai", model_group="m", stream=False, started_at=0.0)
        )
        assert built == []
        logger.setLevel(logging.INFO)
        recorder.record(
            Counted(request_id="r2", surface="openai", model_group="m", stream=False, started_at=0.0)
        )
        assert built == [True]
    finally:
        logger.setLevel(saved)
