"""The line-keeping YAML loader: marks, duplicate keys, merge keys, dates and syntax errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bastion.domain.errors import ConfigError
from bastion.settings import load_settings
from bastion.settings._yaml import YamlList, YamlMap, load_yaml_file

Write = Callable[..., Path]


def test_marks_record_key_and_item_lines(write_config: Write) -> None:
    """Each key and list item remembers its 1-based line in the named file."""
    path = write_config("a: 1\nb:\n  - x\n  - y\n")
    data = load_yaml_file(path, "shown.yaml")
    assert isinstance(data, YamlMap)
    assert [str(data.key_mark(k)) for k in ("a", "b")] == ["shown.yaml:1", "shown.yaml:2"]
    items = data["b"]
    assert isinstance(items, YamlList)
    assert [m.line for m in items.item_marks] == [3, 4]


def test_duplicate_keys_are_rejected(write_config: Write) -> None:
    """A key set twice in one mapping is an error, not a silent override."""
    path = write_config("a: 1\nb: 2\na: 3\n")
    with pytest.raises(ConfigError, match=r"^x.yaml:3: duplicate key 'a' \(first set on line 1\)$"):
        load_yaml_file(path, "x.yaml")


def test_merge_keys_work_and_own_keys_win(write_config: Write) -> None:
    """``<<: *anchor`` merges a shared block; keys written next to it override it."""
    path = write_config(
        """\
base: &base
  model: mock/a
  temperature: 0.1
model_list:
  - model_name: g
    litellm_params:
      <<: *base
      temperature: 0.5
"""
    )
    with pytest.raises(ConfigError, match="base: unknown key"):
        load_settings(path, environ={})
    data = load_yaml_file(path, "x.yaml")
    params = data["model_list"][0]["litellm_params"]
    assert dict(params) == {"model": "mock/a", "temperature": 0.5}


def test_dates_stay_strings(write_config: Write) -> None:
    """An unquoted date is kept as the text written (api_version values look like dates)."""
    assert load_yaml_file(write_config("v: 2024-02-01\n"), "x.yaml") == {"v": "2024-02-01"}


def test_non_string_keys_are_rejected(write_config: Write) -> None:
    """Keys must be strings; ``1: x`` is reported with its line."""
    with pytest.raises(ConfigError, match=r"^x.yaml:2: keys must be strings, got 1$"):
        load_yaml_file(write_config("a: 1\n1: x\n"), "x.yaml")


def test_syntax_error_names_the_line(write_config: Write) -> None:
    """Invalid YAML gives one line with file, line and the parser's reason."""
    with pytest.raises(ConfigError, match=r"^x.yaml:3: invalid YAML: "):
        load_yaml_file(write_config("a:\n  b: 1\n c: [\n"), "x.yaml")


def test_empty_document_is_none(write_config: Write) -> None:
    """A file with only comments parses to None (the loader reports it)."""
    assert load_yaml_file(write_config("# hi\n"), "x.yaml") is None
