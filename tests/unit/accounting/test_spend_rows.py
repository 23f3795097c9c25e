"""Spend rows: cleaned of every value a database refuses, never dropped; the reduced last resort."""

from __future__ import annotations

import math
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.accounting.spend_rows import clean_text, reduce_row, sanitize_row, spend_log
from bastion.store.bounds import MAX_COUNT, MAX_ID_LENGTH, MAX_MONEY, text_problem


def row(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "request_id": "req-1",
        "api_key": "a" * 64,
        "start_time": 1_700_000_000.5,
        "end_time": 1_700_000_001.0,
        "spend": 0.25,
        "prompt_tokens": 3,
        "completion_tokens": 4,
        "total_tokens": 7,
        "status": "success",
        "http_status": 200,
        "metadata": {"surface": "openai", "stream": False, "attempts": 1},
    }
    return base | values


def test_nul_and_lone_surrogates_are_removed_from_client_text() -> None:
    """A NUL (PostgreSQL refuses it) and a lone surrogate (no database stores it) are cleaned."""
    clean = sanitize_row(row(end_user="ab\x00cd", model="x\ud800y"))
    assert clean["end_user"] == "abcd" and clean["model"] == "x?y"
    orjson.dumps(clean)  # encodable, as the journal and PostgreSQL's recordset need


def test_text_is_cut_to_its_column() -> None:
    """Strings longer than their column are cut (255 for ids chosen by callers, 16 for status)."""
    clean = sanitize_row(row(end_user="u" * 5000, status="s" * 40))
    assert len(clean["end_user"]) == 255 and len(clean["status"]) == 16


def test_numbers_are_kept_in_their_columns_range() -> None:
    """Tokens beyond a 32-bit integer, negative or non-finite values, huge amounts: all in range."""
    clean = sanitize_row(
        row(prompt_tokens=2**63, completion_tokens=-5, total_tokens=math.inf, spend=1e308, http_status=None)
    )
    assert clean["prompt_tokens"] == 2**31 - 1 and clean["completion_tokens"] == 0
    assert clean["total_tokens"] == 0 and clean["spend"] == 99_999_999.0
    assert clean["http_status"] is None
    assert sanitize_row(row(spend=math.nan))["spend"] == 0.0


def test_the_row_cleaner_and_the_administration_bounds_agree() -> None:
    """What the administration services accept (store.bounds) a spend row keeps unchanged, and what
    the row cleaner makes of anything larger is within those bounds: one idea of a column's limits."""
    longest = "t" * MAX_ID_LENGTH
    assert text_problem(longest) is None and text_problem(longest + "t") is not None
    kept = sanitize_row(row(team_id=longest, user=longest, end_user=longest, spend=float(MAX_MONEY)))
    assert kept["team_id"] == kept["user"] == kept["end_user"] == longest and kept["spend"] == MAX_MONEY
    cut = sanitize_row(row(team_id=longest + "x\x00", spend=MAX_MONEY * 10.0, total_tokens=MAX_COUNT + 1))
    assert text_problem(cut["team_id"]) is None and cut["spend"] == MAX_MONEY
    assert cut["total_tokens"] == MAX_COUNT


def test_bad_times_become_now_and_unknown_fields_are_dropped() -> None:
    """A time no database holds becomes the current time; a field of another version is ignored."""
    clean = sanitize_row(row(start_time=1e20, completion_start_time=math.nan, from_the_future=1))
    assert 1_600_000_000 < clean["start_time"] < 4_000_000_000
    assert "from_the_future" not in clean
    assert spend_log(row(from_the_future=1)).request_id == "req-1"


def test_metadata_values_are_cleaned() -> None:
    """Metadata may carry a client's model name (routed_from): cleaned like any text."""
    clean = sanitize_row(row(metadata={"routed_from": "m\x00" * 3000, "attempts": 2, "n": math.inf}))
    assert clean["metadata"]["routed_from"] == "m" * 1024
    assert clean["metadata"]["attempts"] == 2 and clean["metadata"]["n"] == 0


def test_a_reduced_row_keeps_the_amounts_and_bastions_ids_only() -> None:
    """reduce_row keeps cost, tokens, key, team and user; drops what a client chose."""
    reduced = reduce_row(row(end_user="hostile", model="hostile", model_group="g", team_id="t", user="u"))
    assert reduced["spend"] == 0.25 and reduced["total_tokens"] == 7
    assert (reduced["api_key"], reduced["team_id"], reduced["user"]) == ("a" * 64, "t", "u")
    assert "end_user" not in reduced and "model" not in reduced and "model_group" not in reduced
    assert reduced["metadata"] == {"reduced": True}
    assert spend_log(reduced).spend == 0.25


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(exclude_categories=())), st.integers(1, 300))
def test_clean_text_always_gives_storable_text(text: str, limit: int) -> None:
    """Any text (lone surrogates included) becomes valid UTF-8 without NUL, within the limit."""
    clean = clean_text(text, limit)
    assert "\x00" not in clean and len(clean) <= limit
    clean.encode()
