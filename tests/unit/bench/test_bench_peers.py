"""The benchmark's peers: LiteLLM gets Bastion's config, Portkey is routed to the same mock by its
headers, and both are installed from exact pins (``make bench-peers``), so a run measures the
versions the report names."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from bench import peers
from bench.peers import LITELLM, PORTKEY, litellm_command, missing, portkey_command, portkey_target
from bench.report import markdown
from bench.targets import MASTER_KEY, ROOT, UPSTREAM_KEY, gateway_config, gateway_target

MOCK = "http://127.0.0.1:9"
PINS = ROOT / "bench" / "pins"


def test_litellm_runs_the_config_bastion_gets(tmp_path: Path) -> None:
    config = tmp_path / "litellm.yaml"
    config.write_text(gateway_config(MOCK))
    argv, env = litellm_command(config, 4321)

    assert argv[0] == str(LITELLM)
    assert argv[argv.index("--config") + 1] == str(config)
    assert argv[argv.index("--port") + 1] == "4321"
    assert argv[argv.index("--num_workers") + 1] == "1"
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"  # no cost-map download at start-up
    loaded = yaml.safe_load(config.read_text())
    (group,) = loaded["model_list"]
    assert group["model_name"] == "bench"
    assert group["litellm_params"] == {
        "model": "openai/bench-model",
        "api_base": f"{MOCK}/v1",
        "api_key": UPSTREAM_KEY,
    }
    assert loaded["general_settings"]["master_key"] == MASTER_KEY
    # ... and its requests are sent as Bastion's are: group ``bench``, master key as Bearer.
    target = gateway_target("litellm", 4321, tmp_path)
    assert (target.model, target.headers["Authorization"]) == ("bench", f"Bearer {MASTER_KEY}")


def test_portkey_is_routed_to_the_mock_by_its_headers(tmp_path: Path) -> None:
    target = portkey_target(4322, MOCK, tmp_path)

    assert target.headers["x-portkey-provider"] == "openai"
    assert target.headers["x-portkey-custom-host"] == f"{MOCK}/v1"
    assert target.headers["Authorization"] == f"Bearer {UPSTREAM_KEY}"  # the upstream's key
    assert target.model == "bench-model"  # no model list: the upstream's own name
    assert target.url("chat") == "http://127.0.0.1:4322/v1/chat/completions"
    assert target.url("responses") == "http://127.0.0.1:4322/v1/responses"
    argv, env = portkey_command(4322)
    assert argv[1:] == [str(PORTKEY), "--port=4322", "--headless"]
    assert env == {"NODE_ENV": "production"}


def test_portkey_is_installed_from_an_exact_pin_that_the_lockfile_holds() -> None:
    package = json.loads((PINS / "portkey" / "package.json").read_text())
    lock = json.loads((PINS / "portkey" / "package-lock.json").read_text())
    pinned = package["dependencies"]["@portkey-ai/gateway"]

    assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), pinned
    assert lock["packages"][""]["dependencies"] == package["dependencies"]
    assert lock["packages"]["node_modules/@portkey-ai/gateway"]["version"] == pinned
    for name, version in package.get("overrides", {}).items():
        assert lock["packages"][f"node_modules/{name}"]["version"] == version


def test_litellm_is_installed_from_exact_pins() -> None:
    lines = [line for line in (PINS / "litellm.txt").read_text().splitlines() if line and line[0] != "#"]

    assert lines[0].startswith("litellm[proxy]==")
    assert all(re.fullmatch(r"[A-Za-z0-9_.\[\]-]+==[^=\s]+", line) for line in lines), lines
    assert len({line.split("==")[0].split("[")[0].lower() for line in lines}) == len(lines)


def test_a_peer_that_cannot_run_says_why(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(peers, "PORTKEY", tmp_path / "start-server.js")
    assert missing("portkey") == "not installed (make bench-peers installs it in bench/.peers/portkey)"

    peers.PORTKEY.write_text("")
    monkeypatch.setenv("PATH", str(tmp_path))  # installed, but no node to run it
    assert missing("portkey") == "not run: no node on PATH"
    monkeypatch.setattr(peers, "LITELLM", tmp_path / "litellm")
    assert missing("litellm") == "not installed (make bench-peers installs it in bench/.peers/litellm)"
    peers.LITELLM.write_text("")
    assert missing("litellm") is None


def _result(p50: float, errors: int) -> dict[str, object]:
    """A step's result with p50 ``p50`` (and TTFB), 1000/p50 per second and p50/10 ms of CPU."""
    latency = {"p50": p50, "p90": p50, "p99": p50}
    return {
        "latency_ms": latency,
        "ttfb_ms": latency,
        "rps": 1000.0 / p50,
        "cpu_ms_per_request": p50 / 10,
        "errors": errors,
        "first_error": "refused" if errors else None,
    }


def test_the_report_sets_every_gateway_side_by_side_against_direct() -> None:
    names = ("direct", "bastion", "litellm", "portkey")
    p50s = {  # per step, in the order of ``names``
        "nonstream-c1": (0.20, 0.50, 12.0, 1.9),
        "nonstream-c16": (2.0, 4.0, 200.0, 20.0),
        "stream-c1": (1.0, 1.5, 15.0, 33.0),
        "stream-c32": (1.0, 2.0, 60.0, 40.0),
    }
    scenarios = []
    for step, values in p50s.items():
        pairs = zip(names, values, strict=True)
        results = {name: _result(p50, 3 if name == "litellm" else 0) for name, p50 in pairs}
        scenarios.append({"name": step, "label": step, "stream": step.startswith("s"), "results": results})
    run = {
        "scenarios": scenarios,
        "targets": {name: {"startup_seconds": 0.25, "idle_rss_kib": 90 * 1024} for name in names},
        "meta": {"date": "today", "machine": "here", "quick": True, "token_delay": 0.002, "commit": "x"},
    }

    rows = markdown(run).splitlines()

    litellm = "| litellm | +11.80 ms | 5 (**3 errors**) | 20.00 ms | 1.50 / 6.00 ms | 90.0 MiB | 0.25 s |"
    assert litellm in rows
    assert "| portkey | +1.70 ms | 50 | 2.00 ms | 3.30 / 4.00 ms | 90.0 MiB | 0.25 s |" in rows
