"""deploy/: the compose file and the Kubernetes manifests pass their schemas (offline), the image
runs as a user without privileges, every file agrees with what the code reads, and the scaling page
names each setting exactly as the code does."""

from __future__ import annotations

import importlib.resources
import json
import re
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from bastion.cli import build_parser
from bastion.settings import _known_keys as known
from bastion.settings import load_settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
#: The Kubernetes release whose schemas the manifests are checked against (kubernetes-validate's
#: newest bundled release).
K8S_VERSION = kubernetes_validate.utils.latest_version()
ENV = {
    "BASTION_MASTER_KEY": "sk-deploy-test-master",
    "ANTHROPIC_API_KEY": "sk-ant-deploy-test",
    "DATABASE_URL": "postgresql://bastion:pw@postgres:5432/bastion",
    "REDIS_URL": "redis://redis:6379/0",
}


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _manifests() -> list[tuple[str, dict[str, Any]]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [(name, doc) for name in kustomization["resources"] for doc in _documents(K8S / name)]


def _routes() -> set[str]:
    source = (ROOT / "src/bastion/api/server.py").read_text()
    return set(re.findall(r'"(/[a-z/_{}.-]*)"\s*:', source))


def test_the_compose_file_passes_the_compose_specification() -> None:
    schema_file = importlib.resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text())
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    jsonschema.validate(compose, schema)
    services = compose["services"]
    assert {"bastion", "migrate", "postgres", "redis"} <= services.keys()
    gateway = services["bastion"]
    assert gateway["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "--no-migrate" in gateway["command"]
    # The environment the compose file gives is what the mounted config asks for.
    assert set(gateway["environment"]) >= set(ENV)


def test_every_manifest_passes_the_kubernetes_schemas() -> None:
    manifests = _manifests()
    assert {doc["kind"] for _, doc in manifests} == {
        "Namespace",
        "Secret",
        "ConfigMap",
        "Job",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }
    for name, doc in manifests:
        try:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as err:
            pytest.fail(f"{name}: {doc['kind']}: {err.message}")
    listed = {name for name, _ in manifests}
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk, "every manifest is in kustomization.yaml and every listed file exists"


def test_the_gateway_pods_probe_real_routes_and_run_without_privileges() -> None:
    manifests = {doc["kind"]: doc for _, doc in _manifests()}
    pod = manifests["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    routes = _routes()
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["path"] in routes, probe
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert {m["mountPath"] for m in container["volumeMounts"]} == {"/etc/bastion", "/var/lib/bastion"}
    assert {"name": "BASTION_DATA_DIR", "value": "/var/lib/bastion"} in container["env"]
    # bastion serve waits up to 30 s for requests in flight; Kubernetes must wait longer before SIGKILL.
    assert pod["terminationGracePeriodSeconds"] > 30
    # Services and selectors line up.
    selector = manifests["Service"]["spec"]["selector"]
    assert selector.items() <= manifests["Deployment"]["spec"]["template"]["metadata"]["labels"].items()
    assert manifests["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == "bastion"
    # The secret holds every variable the config reads from the environment.
    secret = manifests["Secret"]["stringData"]
    assert set(secret) == set(ENV)


def test_the_commands_of_the_manifests_and_the_image_parse() -> None:
    """Every `bastion` command line in deploy/ is one the CLI accepts."""
    parser = build_parser()
    manifests = {doc["kind"]: doc for _, doc in _manifests()}
    commands = [
        manifests["Deployment"]["spec"]["template"]["spec"]["containers"][0]["args"],
        manifests["Job"]["spec"]["template"]["spec"]["containers"][0]["args"],
    ]
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for service in ("bastion", "migrate"):
        command = [str(part) for part in compose["services"][service]["command"]]
        commands.append([part.replace("${BASTION_WORKERS:-2}", "2") for part in command])
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    (cmd,) = re.findall(r"^CMD (\[.*\])$", dockerfile, flags=re.M)
    commands.append(json.loads(cmd))
    for command in commands:
        parser.parse_args(command)  # exits (fails the test) on an unknown option


def test_the_image_runs_unprivileged_and_checks_its_health() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)$", dockerfile, flags=re.M)
    assert users and users[-1].split(":")[0] not in ("0", "root")
    (health,) = re.findall(r"http://127\.0\.0\.1:4000(/[a-z/]+)", dockerfile)
    assert health in _routes()
    assert "BASTION_DATA_DIR=/var/lib/bastion" in dockerfile
    ignored = (ROOT / ".dockerignore").read_text()
    for needed in re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, flags=re.M):
        for path in shlex.split(needed):
            assert (ROOT / path).exists(), path
            assert f"!{path.rstrip('/')}" in ignored.replace("!src/", "!src"), (
                f"{path} is excluded from the build"
            )


def test_the_deploy_config_loads_with_the_environment_it_is_given() -> None:
    settings = load_settings(DEPLOY / "config.yaml", environ=ENV)
    assert settings.database_url == ENV["DATABASE_URL"]
    assert settings.bastion.redis_url == ENV["REDIS_URL"]
    assert (settings.bastion.host, settings.bastion.port) == ("0.0.0.0", 4000)
    configmap = next(doc for _, doc in _manifests() if doc["kind"] == "ConfigMap")
    assert yaml.safe_load(configmap["data"]["config.yaml"]) == yaml.safe_load(
        (DEPLOY / "config.yaml").read_text()
    ), "deploy/k8s/configmap.yaml holds deploy/config.yaml"


_SECTIONS = {
    "general_settings": known.GENERAL_SETTINGS_KEYS,
    "router_settings": known.ROUTER_SETTINGS_KEYS,
    "litellm_settings": known.LITELLM_SETTINGS_KEYS,
    "bastion_settings": known.BASTION_SETTINGS_KEYS,
}


def test_the_scaling_page_names_settings_as_the_code_reads_them() -> None:
    page = (ROOT / "docs/scaling.md").read_text()
    table = page.split("## The settings that matter", 1)[1].split("\n## ", 1)[0]
    names = [name for row in table.splitlines() if row.startswith("| `") for name in _first_cell_names(row)]
    assert len(names) >= 10
    options = _cli_options()
    sources = "\n".join(p.read_text() for p in (ROOT / "src/bastion").rglob("*.py"))
    for name in names:
        if name.startswith("--"):
            assert name in options, name
        elif re.fullmatch(r"[A-Z][A-Z0-9_]+", name):
            assert f'"{name}"' in sources, f"{name}: no code reads this variable"
        else:
            section, _, key = name.partition(".")
            if not key:  # a bare key continuing the row's section (redis_port, redis_password)
                continue
            assert section in _SECTIONS and key in _SECTIONS[section], name


def _first_cell_names(row: str) -> list[str]:
    cell = row.split("|")[1]
    names = re.findall(r"`([^`]+)`", cell)
    # "router_settings.redis_host / redis_port": the bare names belong to the section before.
    section = ""
    out = []
    for name in names:
        if "." in name:
            section = name.split(".", 1)[0]
            out.append(name)
        elif re.fullmatch(r"[a-z_]+", name) and section:
            out.append(f"{section}.{name}")
        else:
            out.append(name)
    return out


def _cli_options() -> set[str]:
    parser = build_parser()
    options: set[str] = set()
    for action in parser._actions:
        choices = getattr(action, "choices", None)
        if isinstance(choices, dict):
            for sub in choices.values():
                options.update(sub._option_string_actions)
    return options
