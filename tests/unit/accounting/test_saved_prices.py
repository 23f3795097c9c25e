"""The configured models' table prices at start-up: from a child process, then from the saved file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from bastion.accounting import _saved_prices
from bastion.accounting._price_table import table_price
from bastion.accounting._saved_prices import FILE_NAME, look_up

KNOWN = ("openai", "gpt-4.1-mini")
UNKNOWN = ("openai", "no-such-model-anywhere")


def test_the_child_answers_as_the_table_does_and_the_answers_are_saved(tmp_path: Path) -> None:
    found = look_up([KNOWN, UNKNOWN], tmp_path)
    assert found == {KNOWN: table_price(*KNOWN), UNKNOWN: None}
    assert found[KNOWN] is not None and found[KNOWN].base.input > 0
    saved = orjson.loads((tmp_path / FILE_NAME).read_bytes())
    assert saved["genai_prices"] == _saved_prices.table_version()
    assert set(saved["models"]) == {"openai/gpt-4.1-mini", "openai/no-such-model-anywhere"}


def test_a_restart_reads_the_saved_file_and_asks_nobody(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = look_up([KNOWN, UNKNOWN], tmp_path)
    asked: list[Any] = []
    monkeypatch.setattr(_saved_prices, "_in_child", lambda models: asked.append(models))
    monkeypatch.setattr(_saved_prices, "table_price", lambda *key: asked.append(key))
    assert look_up([KNOWN, UNKNOWN], tmp_path) == first
    assert asked == []


def test_only_the_models_missing_from_the_file_are_looked_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    look_up([KNOWN], tmp_path)
    asked: list[Any] = []
    real = _saved_prices._in_child

    def spy(models: Any) -> Any:
        asked.append(list(models))
        return real(models)

    monkeypatch.setattr(_saved_prices, "_in_child", spy)
    other = ("anthropic", "claude-sonnet-4-5")
    found = look_up([KNOWN, other], tmp_path)
    assert asked == [[other]]
    assert found[other] == table_price(*other)
    saved = orjson.loads((tmp_path / FILE_NAME).read_bytes())
    assert set(saved["models"]) == {"openai/gpt-4.1-mini", "anthropic/claude-sonnet-4-5"}


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b'{"genai_prices": "0.0.0-another-version", "models": {"openai/gpt-4.1-mini": null}}',
        b'{"genai_prices": "VERSION", "models": {"openai/gpt-4.1-mini": {"base": [1]}}}',
    ],
    ids=["damaged", "another-version", "wrong-shape"],
)
def test_a_damaged_or_stale_file_is_looked_up_again_and_rewritten(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / FILE_NAME
    path.write_bytes(content.replace(b"VERSION", _saved_prices.table_version().encode()))
    found = look_up([KNOWN], tmp_path)
    assert found == {KNOWN: table_price(*KNOWN)}
    saved = orjson.loads(path.read_bytes())
    assert saved["genai_prices"] == _saved_prices.table_version()
    assert saved["models"]["openai/gpt-4.1-mini"] is not None


def test_without_a_usable_child_the_gateway_looks_up_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_saved_prices.sys, "executable", str(tmp_path / "no-python-here"))
    assert look_up([KNOWN], tmp_path) == {KNOWN: table_price(*KNOWN)}


def test_a_read_only_data_directory_still_prices(tmp_path: Path) -> None:
    missing = tmp_path / "not-a-directory"
    missing.write_text("a file where the directory should be")
    assert look_up([KNOWN], missing) == {KNOWN: table_price(*KNOWN)}
