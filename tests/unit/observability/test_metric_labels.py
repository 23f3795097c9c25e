"""The labels that come from data stay bounded: teams are capped, refusal scopes keep only their kind."""

from __future__ import annotations

import re
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.metrics import MetricWrapperBase

from bastion.observability.metrics import Metrics


def test_team_labels_are_capped_with_an_other_bucket() -> None:
    metrics = Metrics(team_label_limit=2)
    assert [metrics.team_label(t) for t in ("a", "b", "c", "a", None, "")] == [
        "a",
        "b",
        "other",
        "a",
        "none",
        "none",
    ]


def test_refusal_scope_keeps_only_the_owner_kind() -> None:
    metrics = Metrics()
    metrics.refused("rpm", "key:0123456789abcdef")
    metrics.refused("budget", "team:acme")
    metrics.refused("tpm", "browser:xyz:rate")
    text = generate_latest(metrics.registry).decode()
    assert 'bastion_limit_refusals_total{reason="rpm",scope="key"} 1.0' in text
    assert 'bastion_limit_refusals_total{reason="budget",scope="team"} 1.0' in text
    assert 'bastion_limit_refusals_total{reason="tpm",scope="other"} 1.0' in text
    assert "0123456789abcdef" not in text and "acme" not in text


def test_operations_page_lists_every_metric_with_its_labels() -> None:
    """docs/operations.md's table names each metric and exactly its labels, and no metric that is gone."""
    page = (Path(__file__).resolve().parents[3] / "docs" / "operations.md").read_text()
    rows = re.findall(r"^\| `(bastion_[a-z_]+)` \| (?:counter|histogram|gauge) \|([^|]*)\|", page, re.M)
    documented = {name: set(re.findall(r"`([a-z_]+)`", labels)) for name, labels in rows}
    actual: dict[str, set[str]] = {}
    for collector in vars(Metrics()).values():
        if isinstance(collector, MetricWrapperBase):
            kind = collector._type  # prometheus_client keeps the name and type on the collector
            actual[collector._name + ("_total" if kind == "counter" else "")] = set(collector._labelnames)
    assert len(actual) >= 20 and documented == actual
