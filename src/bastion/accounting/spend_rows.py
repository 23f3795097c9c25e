"""A finished request's usage record as a spend-log row: JSON-ready for the journal, and back.

Rows are plain dicts (times as Unix seconds) so they can be appended to the journal and read back
unchanged; :func:`spend_log` turns a row into the store's record. Rows are cleaned on the way to the
database (:func:`sanitize_row`): a client chooses some of their values (its ``user`` field, a
wildcard model name), and no value a database refuses (a NUL, a lone surrogate, a string longer
than its column, a number out of range) may cost a request its row. :func:`reduce_row` is the last
resort for a row a database still refuses: only the values Bastion itself made, so its cost still
counts.
"""

from __future__ import annotations

import enum
import math
import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String

from bastion.accounting.attribution import spend_key
from bastion.accounting.records import UsageRecord
from bastion.store.bounds import MAX_COUNT, MAX_ID_LENGTH, MAX_MONEY
from bastion.store.records import SpendLogRecord
from bastion.store.schema import spend_logs

__all__ = ["Row", "clean_text", "reduce_row", "sanitize_row", "spend_log", "spend_row"]

Row = dict[str, Any]

# The columns' limits are the store's (bastion.store.bounds and the schema), the ones the
# administration services check their input against: one place says what a column holds.
#: Text columns and their lengths (PostgreSQL enforces them; SQLite does not, but both get the same).
_TEXT = {
    str(c.name): int(c.type.length)
    for c in spend_logs.columns
    if isinstance(c.type, String) and c.type.length and c.name != "billing"  # the billing worker's
}
_INTEGERS = (
    "prompt_tokens",
    "completion_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "reasoning_tokens",
    "total_tokens",
    "http_status",
)
_FLAGS = ("usage_estimated", "client_disconnected", "cache_hit", "user_key")
_TIMES = ("start_time", "end_time", "completion_start_time")
_INT_MAX = MAX_COUNT  # PostgreSQL's integer
_MONEY_MAX = float(MAX_MONEY)  # NUMERIC(18, 10) keeps 8 digits before the point
_META_TEXT = 1024
_ID = MAX_ID_LENGTH  # the length of the id columns (spend_logs.end_user, model)
_EARLIEST, _LATEST = -62_135_596_800, 253_402_300_799  # years 1 and 9999, what datetime holds


class _Kind(enum.Enum):
    TEXT = 1
    INTEGER = 2
    MONEY = 3
    FLAG = 4
    TIME = 5
    JSON = 6


#: Every column a row carries, by kind.
_KINDS: dict[str, _Kind] = (
    dict.fromkeys(_TEXT, _Kind.TEXT)
    | dict.fromkeys(_INTEGERS, _Kind.INTEGER)
    | dict.fromkeys(_FLAGS, _Kind.FLAG)
    | dict.fromkeys(_TIMES, _Kind.TIME)
    | {"spend": _Kind.MONEY, "metadata": _Kind.JSON}
)
#: What a reduced row keeps besides the amounts: only values Bastion itself made.
_REDUCED_TEXT = ("request_id", "api_key", "team_id", "user", "deployment_id", "custom_llm_provider", "status")


def spend_row(rec: UsageRecord) -> Row:
    u = rec.usage
    return {
        "request_id": rec.request_id,
        "api_key": spend_key(rec),
        "start_time": rec.started_at,
        "end_time": rec.started_at + rec.latency_ms / 1000,
        "completion_start_time": None if rec.ttft_ms is None else rec.started_at + rec.ttft_ms / 1000,
        "spend": rec.cost_usd,
        "team_id": rec.team_id,
        "user": rec.user_id,
        # Chosen by the client: cut to the column now, so no request can make its row (in memory and
        # in the journal) large; sanitize_row cleans the rest on the way to the database.
        "end_user": None if rec.end_user is None else rec.end_user[:_ID],
        "model_group": rec.model_group,
        "model": None if rec.upstream_model is None else rec.upstream_model[:_ID],
        "deployment_id": rec.deployment_id,
        "custom_llm_provider": rec.provider,
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "cache_read_tokens": u.cache_read_tokens,
        "cache_write_tokens": u.cache_write_tokens,
        "reasoning_tokens": u.reasoning_tokens,
        "total_tokens": u.total_tokens,
        "status": "success" if rec.status < 400 else "failure",
        "http_status": rec.status,
        "usage_estimated": rec.usage_estimated,
        "client_disconnected": rec.client_disconnected,
        "cache_hit": rec.cache_hit,
        "user_key": rec.user_key,
        "plan": rec.plan,
        "metadata": {"surface": rec.surface, "stream": rec.stream, "attempts": rec.attempts}
        | ({"fallback_group": rec.fallback_group} if rec.fallback_group else {})
        | ({"error_kind": rec.error_kind} if rec.error_kind else {})
        | (
            {"route": rec.route_rule, "routed_from": rec.routed_from and rec.routed_from[:_ID]}
            if rec.route_rule
            else {}
        ),
    }


def clean_text(value: object, limit: int) -> str:
    """``value`` as text every database stores: no NUL, valid UTF-8, at most ``limit`` characters."""
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        text = text.replace("\x00", "")
    if not text.isascii():
        try:
            text.encode()
        except UnicodeEncodeError:  # lone surrogates (JSON "\ud800"): not storable anywhere
            text = text.encode(errors="replace").decode()
    return text[:limit] if len(text) > limit else text


def sanitize_row(row: Row) -> Row:
    """A copy of ``row`` that every backend stores: text cleaned and cut to its column, numbers in
    their column's range (non-finite amounts count as 0), flags as booleans, every column present,
    unknown keys dropped. Runs for every row, so values already fine cost one check each."""
    out: Row = {}
    for name, value in row.items():
        kind = _KINDS.get(name)
        if kind is None:
            continue
        if kind is _Kind.TEXT:
            if value is not None and not (type(value) is str and _plain(value, _TEXT[name])):
                value = clean_text(value, _TEXT[name])
        elif kind is _Kind.INTEGER:
            if type(value) is not int or not 0 <= value <= _INT_MAX:
                value = None if value is None and name == "http_status" else _integer(value)
        elif kind is _Kind.MONEY:
            if type(value) is not float or not -_MONEY_MAX <= value <= _MONEY_MAX:
                value = _money(value)
        elif kind is _Kind.FLAG:
            value = value is True or (value is not False and bool(value))
        elif kind is _Kind.TIME:
            if (value is not None or name == "start_time") and not (
                type(value) is float and _EARLIEST < value < _LATEST
            ):
                value = _time(value)
        else:
            value = _metadata(value)
        out[name] = value
    if len(out) != len(_KINDS):
        _complete(out)
    return out


def _plain(text: str, limit: int) -> bool:
    return len(text) <= limit and text.isascii() and "\x00" not in text


def _complete(out: Row) -> None:
    """Fill the columns a row lacks (a journal line of another version)."""
    out["request_id"] = out.get("request_id") or "unknown"
    out["api_key"] = out.get("api_key") or ""
    out["status"] = out.get("status") or "failure"
    out.setdefault("start_time", time.time())
    out.setdefault("spend", 0.0)
    out.setdefault("metadata", {})
    for name, kind in _KINDS.items():
        if name not in out:
            out[name] = (
                0
                if kind is _Kind.INTEGER and name != "http_status"
                else False
                if kind is _Kind.FLAG
                else None
            )


def reduce_row(row: Row) -> Row:
    """The last resort for a row a database refuses: its amounts and the ids Bastion made, nothing
    a client chose; ``metadata.reduced`` marks it."""
    clean = sanitize_row(row)
    reduced: Row = {name: clean.get(name) for name in _REDUCED_TEXT}
    reduced |= {name: clean.get(name) for name in (*_INTEGERS, *_FLAGS, *_TIMES, "spend")}
    reduced["status"] = reduced["status"] if reduced["status"] in ("success", "failure") else "failure"
    reduced["metadata"] = {"reduced": True}
    return reduced


def spend_log(row: Row) -> SpendLogRecord:
    """The store's record of a (cleaned) row."""
    values = sanitize_row(row)
    for name in _TIMES:
        value = values.get(name)
        if value is not None:
            values[name] = datetime.fromtimestamp(value, tz=UTC)
    return SpendLogRecord(**values)


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    if isinstance(value, float):
        if not math.isfinite(value):
            return 0
        value = int(value)
    return min(max(value, 0), _INT_MAX)


def _money(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return 0.0
    return min(max(float(value), -_MONEY_MAX), _MONEY_MAX)


def _time(value: object) -> float:
    # Year 1 to 9999 is what datetime (and both databases) can hold; anything else is "now".
    if isinstance(value, bool) or not isinstance(value, int | float):
        return time.time()
    if math.isfinite(value) and _EARLIEST < value < _LATEST:
        return float(value)
    return time.time()


def _metadata(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        return {}
    out: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, bool) or item is None:
            pass
        elif isinstance(item, int | float):
            item = item if math.isfinite(item) and abs(item) < 2**53 else 0
        else:
            item = clean_text(item, _META_TEXT)
        out[clean_text(key, _META_TEXT)] = item
    return out
