"""Router: model groups, fallback chains, and which deployment of a group is tried next."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bastion.domain.errors import ModelNotFoundError
from bastion.gateway.router import Router
from bastion.settings import Deployment, load_settings


def dep(group: str, dep_id: str, **params: Any) -> dict[str, Any]:
    """A model_list entry of ``group`` with a fixed deployment id."""
    return {
        "model_name": group,
        "litellm_params": {"model": f"openai/{dep_id}", "api_key": "sk-unit", **params},
        "model_info": {"id": dep_id},
    }


def make_router(tmp_path: Path, model_list: list[dict[str, Any]], **router_settings: Any) -> Router:
    """Write a config file and build a Router from the loaded settings."""
    path = tmp_path / "config.yaml"
    config: dict[str, Any] = {"model_list": model_list}
    if router_settings:
        config["router_settings"] = router_settings
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return Router(load_settings(path, environ={}))


def ids(deployments: list[Deployment]) -> list[str]:
    return [d.deployment_id for d in deployments]


@pytest.fixture
def seeded() -> Iterator[None]:
    """Seed the module-level random generator for a reproducible test, then restore its state."""
    state = random.getstate()
    random.seed(20240601)
    yield
    random.setstate(state)


def test_chain_lists_the_group_then_its_fallbacks_in_order(tmp_path: Path) -> None:
    """chain() is the group itself followed by its fallback groups in configured order."""
    router = make_router(
        tmp_path,
        [dep("gpt", "a"), dep("claude", "b"), dep("gemini", "c")],
        fallbacks=[{"gpt": ["gemini", "claude"]}],
    )
    assert router.chain("gpt") == ["gpt", "gemini", "claude"]
    assert router.chain("claude") == ["claude"]


def test_chain_skips_self_and_groups_that_do_not_exist(tmp_path: Path) -> None:
    """A fallback to the group itself, or to a name only a wildcard group matches, is skipped."""
    router = make_router(
        tmp_path,
        [dep("gpt", "a"), dep("claude", "b"), dep("openai/*", "w")],
        fallbacks=[{"gpt": ["gpt", "openai/gpt-5", "claude"]}],
    )
    assert router.chain("gpt") == ["gpt", "claude"]


def test_group_returns_deployments_in_config_order(tmp_path: Path) -> None:
    """group() gives every deployment of the group, in the order of model_list."""
    router = make_router(tmp_path, [dep("gpt", "a"), dep("claude", "x"), dep("gpt", "b")])
    assert ids(list(router.group("gpt"))) == ["a", "b"]


def test_unknown_group_raises_model_not_found_listing_names(tmp_path: Path) -> None:
    """Asking for an unknown group raises ModelNotFoundError naming the configured groups."""
    router = make_router(tmp_path, [dep("gpt", "a"), dep("claude", "b")])
    with pytest.raises(ModelNotFoundError) as caught:
        router.group("gpt-5")
    assert "'gpt-5'" in caught.value.message
    assert "gpt, claude" in caught.value.message
    assert caught.value.status == 404


def test_resolve_accepts_a_short_name_for_a_prefixed_group(tmp_path: Path) -> None:
    """A ``provider/name`` group also answers to ``name``; an exact group name wins."""
    router = make_router(tmp_path, [dep("anthropic/claude-sonnet-4-5", "a"), dep("gpt", "b")])
    assert router.resolve("claude-sonnet-4-5") == "anthropic/claude-sonnet-4-5"
    assert router.resolve("gpt") == "gpt"
    with pytest.raises(ModelNotFoundError):
        router.resolve("gpt-5")


def test_resolve_refuses_an_ambiguous_short_name(tmp_path: Path) -> None:
    """A short name two prefixed groups share resolves to neither."""
    router = make_router(tmp_path, [dep("openai/m", "a"), dep("azure/m", "b")])
    with pytest.raises(ModelNotFoundError):
        router.resolve("m")


@pytest.mark.usefixtures("seeded")
def test_pick_avoids_excluded_deployments_while_others_remain(tmp_path: Path) -> None:
    """A deployment that already failed is not picked again while another one is left."""
    router = make_router(tmp_path, [dep("gpt", "a"), dep("gpt", "b"), dep("gpt", "c")])
    group = router.group("gpt")
    picks = {router.pick(group, exclude={"a", "b"}).deployment_id for _ in range(50)}
    assert picks == {"c"}
    picks = {router.pick(group, exclude={"a"}).deployment_id for _ in range(50)}
    assert picks == {"b", "c"}


@pytest.mark.usefixtures("seeded")
def test_pick_falls_back_to_all_when_every_deployment_is_excluded(tmp_path: Path) -> None:
    """When every deployment failed already, pick chooses among all of them again."""
    router = make_router(tmp_path, [dep("gpt", "a"), dep("gpt", "b")])
    group = router.group("gpt")
    picks = {router.pick(group, exclude={"a", "b"}).deployment_id for _ in range(100)}
    assert picks == {"a", "b"}


@pytest.mark.usefixtures("seeded")
def test_pick_follows_weights(tmp_path: Path) -> None:
    """simple-shuffle picks in proportion to weight (9:1 over 4000 seeded picks)."""
    router = make_router(tmp_path, [dep("gpt", "heavy", weight=9), dep("gpt", "light", weight=1)])
    group = router.group("gpt")
    counts = Counter(router.pick(group).deployment_id for _ in range(4000))
    # Binomial(4000, 0.9) has a standard deviation of 19: allow more than 7 of them.
    assert 3460 <= counts["heavy"] <= 3740


@pytest.mark.usefixtures("seeded")
def test_pick_never_chooses_a_zero_weight_deployment_while_another_has_weight(tmp_path: Path) -> None:
    """A deployment with weight 0 is only a reserve."""
    router = make_router(tmp_path, [dep("gpt", "zero", weight=0), dep("gpt", "one")])
    group = router.group("gpt")
    assert {router.pick(group).deployment_id for _ in range(200)} == {"one"}
    assert router.pick(group, exclude={"one"}).deployment_id == "zero"


@pytest.mark.usefixtures("seeded")
def test_pick_chooses_among_all_when_every_weight_is_zero(tmp_path: Path) -> None:
    """If every candidate has weight 0, pick still returns each of them, not an error."""
    router = make_router(tmp_path, [dep("gpt", "a", weight=0), dep("gpt", "b", weight=0)])
    group = router.group("gpt")
    assert {router.pick(group).deployment_id for _ in range(100)} == {"a", "b"}


def test_least_busy_picks_the_fewest_in_flight(tmp_path: Path) -> None:
    """least-busy picks the deployment with the lowest in_flight count, skipping excluded ones."""
    router = make_router(
        tmp_path, [dep("gpt", "a"), dep("gpt", "b"), dep("gpt", "c")], routing_strategy="least-busy"
    )
    group = router.group("gpt")
    router.in_flight.update({"a": 5, "b": 1, "c": 3})
    assert router.pick(group).deployment_id == "b"
    assert router.pick(group, exclude={"b"}).deployment_id == "c"
    router.in_flight["b"] = 9
    assert router.pick(group).deployment_id == "c"


def test_least_busy_counts_unknown_deployments_as_idle(tmp_path: Path) -> None:
    """A deployment with no in_flight entry counts as zero requests in flight."""
    router = make_router(tmp_path, [dep("gpt", "a"), dep("gpt", "b")], routing_strategy="least-busy")
    router.in_flight["a"] = 1
    assert router.pick(router.group("gpt")).deployment_id == "b"


@pytest.mark.usefixtures("seeded")
def test_pick_tries_the_lowest_order_first_and_unnumbered_last(tmp_path: Path) -> None:
    """LiteLLM's order: lowest order wins, then the next when it is excluded, unnumbered last."""
    router = make_router(
        tmp_path,
        [
            dep("gpt", "none", weight=100),
            dep("gpt", "second", order=2, weight=100),
            dep("gpt", "first-a", order=1),
            dep("gpt", "first-b", order=1),
        ],
    )
    group = router.group("gpt")
    assert {router.pick(group).deployment_id for _ in range(100)} == {"first-a", "first-b"}
    assert router.pick(group, exclude={"first-a", "first-b"}).deployment_id == "second"
    assert router.pick(group, exclude={"first-a", "first-b", "second"}).deployment_id == "none"


def test_order_applies_before_least_busy(tmp_path: Path) -> None:
    """With least-busy, a busier deployment of a lower order still comes first."""
    router = make_router(
        tmp_path, [dep("gpt", "idle", order=2), dep("gpt", "busy", order=1)], routing_strategy="least-busy"
    )
    router.in_flight.update({"busy": 50, "idle": 0})
    assert router.pick(router.group("gpt")).deployment_id == "busy"
