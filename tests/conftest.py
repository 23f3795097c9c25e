"""Shared fixtures: a mock upstream on a real socket and real gateways started per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bastion.settings import Settings, load_settings
from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, STATIC_KEY, standard_models
from support.backends import gateway_on


@pytest.fixture(scope="session")
def upstream_server() -> Iterator[MockUpstream]:
    with MockUpstream() as server:
        yield server


@pytest.fixture
def upstream(upstream_server: MockUpstream) -> MockUpstream:
    upstream_server.reset()
    return upstream_server


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[[dict[str, Any]], Settings]:
    def write(config: dict[str, Any]) -> Settings:
        config.setdefault("general_settings", {}).setdefault("master_key", MASTER_KEY)
        path = tmp_path / "config.yaml"
        path.write_text(yaml.safe_dump(config))
        return load_settings(path, environ={})

    return write


@pytest.fixture
def start_gateway(
    write_config: Callable[[dict[str, Any]], Settings],
) -> Iterator[Callable[..., RunningGateway]]:
    running: list[RunningGateway] = []

    def start(config: dict[str, Any]) -> RunningGateway:
        gateway = RunningGateway(write_config(config))
        gateway.start()
        running.append(gateway)
        return gateway

    yield start
    for gateway in running:
        gateway.stop()


@pytest.fixture
def gateway(start_gateway: Callable[..., RunningGateway], upstream: MockUpstream) -> RunningGateway:
    """A gateway with the standard model groups, fast retries, and a static key limited to 'gpt'."""
    return start_gateway(
        {
            "model_list": standard_models(upstream.url),
            "router_settings": {"num_retries": 2, "timeout": 5},
            "litellm_settings": {"drop_params": True},
            "bastion_settings": {"static_keys": [{"key": STATIC_KEY, "alias": "limited", "models": ["gpt"]}]},
        }
    )


@pytest.fixture(params=["embedded", "scaled"])
def keyed_gateway(
    request: pytest.FixtureRequest, start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> Iterator[RunningGateway]:
    """A gateway with the standard models on each backend: ``embedded`` (SQLite file, in-process
    limits) and ``scaled`` (PostgreSQL store, Redis limits, as many processes would share them)."""
    config = {"model_list": standard_models(upstream.url), "router_settings": {"num_retries": 0}}
    with gateway_on(request.param, config, start_gateway) as gw:
        yield gw
