"""One writer of the usage record: only gateway/ (the Pipeline and ChatService) sets its fields.

Surfaces hand what they learn from a request to the call context (``ctx.stream``,
``ctx.end_user``) or to ``Pipeline.context`` when the call starts (``/v2``: its user, group and
stream); ``ChatService.finish`` writes the record once (issue 13: it used to be set from api/,
accounts/ and the recorder).
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import bastion
from bastion.accounting.records import UsageRecord

_SRC = Path(bastion.__file__).parent
_GATEWAY = _SRC / "gateway"
_FIELDS = {f.name for f in dataclasses.fields(UsageRecord)}


def _writes(tree: ast.AST) -> list[tuple[int, str]]:
    """Assignments to a record field (``<x>.record.f = ...``, ``record.f += ...``), records
    built (``UsageRecord(...)``), copied with changes (``replace(record, ...)``) or ``setattr``."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = list(node.targets)
        elif isinstance(node, (ast.AugAssign, ast.AnnAssign)):
            targets = [node.target]
        found.extend(
            (node.lineno, ast.unparse(part))
            for target in targets
            for part in ast.walk(target)
            if isinstance(part, ast.Attribute) and part.attr in _FIELDS and _is_record(part.value)
        )
        if isinstance(node, ast.Call):
            name = ast.unparse(node.func)
            if name.endswith("UsageRecord") or (
                node.args and _is_record(node.args[0]) and _sets_a_field(name, node)
            ):
                found.append((node.lineno, ast.unparse(node)[:80]))
    return found


def _sets_a_field(name: str, call: ast.Call) -> bool:
    """``replace(record, status=...)`` or ``setattr(record, "status", ...)`` (other records, the
    store's rows with ``created_at``, are not usage records)."""
    if name in ("replace", "dataclasses.replace"):
        return bool(call.keywords) and all(k.arg in _FIELDS for k in call.keywords)
    if name == "setattr" and len(call.args) > 1:
        field = call.args[1]
        return not isinstance(field, ast.Constant) or field.value in _FIELDS
    return False


def _is_record(expr: ast.expr) -> bool:
    text = ast.unparse(expr)
    return text.split(".")[-1] in ("record", "rec", "usage_record")


def test_nothing_outside_the_gateway_writes_the_usage_record() -> None:
    found = []
    for path in sorted(_SRC.rglob("*.py")):
        if _GATEWAY in path.parents:
            continue
        for line, what in _writes(ast.parse(path.read_text())):
            found.append(f"{path.relative_to(_SRC)}:{line}: {what}")
    assert not found, "only the pipeline writes the usage record (hand it the value):\n" + "\n".join(found)


def test_the_gateway_writes_it_so_the_rule_can_see_a_write() -> None:
    written = [w for path in sorted(_GATEWAY.glob("*.py")) for w in _writes(ast.parse(path.read_text()))]
    assert any("record.stream" in what for _, what in written)  # ChatService.finish


def test_the_rule_catches_what_it_is_for() -> None:
    samples = [
        "record.stream = stream",
        "ctx.record.end_user = body['user']",
        "rec.cost_usd = 0.0",
        "self.record.usage_estimated |= True",
        "r = UsageRecord(request_id='x', surface='s', model_group=None, stream=False, started_at=0)",
        "r = replace(ctx.record, status=500)",
        "setattr(record, 'status', 500)",
    ]
    for sample in samples:
        assert _writes(ast.parse(sample)), sample
    assert not _writes(ast.parse("ctx.stream = True\nstatus = ctx.record.status\nrow.status = 1"))
