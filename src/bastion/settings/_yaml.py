"""YAML loading that remembers where every key and list item came from.

PyYAML's plain loaders forget positions once the document is built, but every configuration error
must name its file and line. This loader builds ordinary dicts and lists (subclasses that carry a
:class:`Mark` for each key and item), so later stages can point at the exact spot. It also rejects
duplicate keys, which PyYAML silently resolves to the last one, and keeps dates as the strings the
user wrote (an unquoted ``api_version: 2024-02-01`` must stay a string).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bastion.domain.errors import ConfigError

__all__ = ["Mark", "YamlList", "YamlMap", "load_yaml_file"]

_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(frozen=True, slots=True)
class Mark:
    """A place in a configuration file: the file as the user named it and a 1-based line."""

    file: str
    line: int | None

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file


class YamlMap(dict[str, Any]):
    """A mapping from a YAML file; ``mark`` is where it starts, ``key_marks`` where each key is."""

    __slots__ = ("key_marks", "mark")

    def __init__(self, mark: Mark) -> None:
        super().__init__()
        self.mark = mark
        self.key_marks: dict[str, Mark] = {}

    def key_mark(self, key: str) -> Mark:
        return self.key_marks.get(key, self.mark)


class YamlList(list[Any]):
    """A sequence from a YAML file; ``mark`` is where it starts, ``item_marks`` where each item is."""

    __slots__ = ("item_marks", "mark")

    def __init__(self, mark: Mark) -> None:
        super().__init__()
        self.mark = mark
        self.item_marks: list[Mark] = []

    def item_mark(self, index: int) -> Mark:
        return self.item_marks[index] if index < len(self.item_marks) else self.mark


class _LocatingLoader(yaml.SafeLoader):
    """A SafeLoader whose mappings and sequences are :class:`YamlMap` and :class:`YamlList`."""

    def __init__(self, stream: str, display_name: str) -> None:
        super().__init__(stream)
        self.display_name = display_name

    def mark_of(self, node: Node) -> Mark:
        return Mark(self.display_name, node.start_mark.line + 1)


def _construct_map(loader: _LocatingLoader, node: MappingNode) -> YamlMap:
    own_keys: dict[object, Mark] = {}
    for key_node, _ in node.value:
        if key_node.tag == _MERGE_TAG or not isinstance(key_node, ScalarNode):
            continue
        key = loader.construct_object(key_node)
        if key in own_keys:
            raise ConfigError(
                f"{loader.mark_of(key_node)}: duplicate key '{key}' (first set on line {own_keys[key].line})"
            )
        own_keys[key] = loader.mark_of(key_node)
    # ``<<: *anchor`` merge keys: PyYAML puts the merged pairs first so the node's own keys win.
    loader.flatten_mapping(node)
    result = YamlMap(loader.mark_of(node))
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, str):
            raise ConfigError(f"{loader.mark_of(key_node)}: keys must be strings, got {key!r}")
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_marks[key] = loader.mark_of(key_node)
    return result


def _construct_list(loader: _LocatingLoader, node: SequenceNode) -> YamlList:
    result = YamlList(loader.mark_of(node))
    for item_node in node.value:
        result.append(loader.construct_object(item_node, deep=True))
        result.item_marks.append(loader.mark_of(item_node))
    return result


def _construct_timestamp(loader: _LocatingLoader, node: ScalarNode) -> str:
    return loader.construct_scalar(node)


_LocatingLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LocatingLoader.add_constructor("tag:yaml.org,2002:seq", _construct_list)
_LocatingLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def load_yaml_file(path: Path, display_name: str) -> Any:
    """Parse one YAML file; ``display_name`` is how messages name it. Raises :class:`ConfigError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{display_name}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{display_name}: cannot read the file: {exc}") from exc
    loader = _LocatingLoader(text, display_name)
    try:
        return loader.get_single_data()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Mark(display_name, mark.line + 1 if mark is not None else None)
        problem = " ".join(part for part in (exc.context, exc.problem) if part)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{display_name}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()
