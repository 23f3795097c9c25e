"""deploy/: the compose file and the Kubernetes manifests pass their schemas (offline), the image
runs as a user without privileges, every file agrees with what the code reads, several replicas
share every secret and nothing else, and the scaling page names each setting exactly as the code
does."""

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

from bastion.app import build_app
from bastion.cli import build_parser
from bastion.domain.errors import ConfigError
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
    "BASTION_JWT_SECRET": "j" * 40,
    "ENCRYPTION_KEY": "e" * 40,
    "FIRST_SUPERUSER": "admin@example.com",
    "FIRST_SUPERUSER_PASSWORD": "deploy-test-password",
}
#: What every replica must share, or sessions, logins and stored provider keys break across them.
SHARED = (
    "BASTION_MASTER_KEY",
    "BASTION_JWT_SECRET",
    "ENCRYPTION_KEY",
    "FIRST_SUPERUSER",
    "FIRST_SUPERUSER_PASSWORD",
)


def _documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _manifests() -> list[tuple[str, dict[str, Any]]]:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    return [(name, doc) for name in kustomization["resources"] for doc in _documents(K8S / name)]


def _routes(tmp_path: Path) -> set[str]:
    """The GET paths of the route table a gateway builds (for the probes and health checks)."""
    config = tmp_path / "config.yaml"
    config.write_text("model_list:\n  - model_name: m\n    litellm_params:\n      model: mock/x\n")
    app = build_app(load_settings(config, environ={}), migrate=False)
    return {endpoint.path for endpoint in app.table.endpoints if endpoint.method == "GET"}


def test_the_compose_file_passes_the_compose_specification() -> None:
    schema_file = importlib.resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text())
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    jsonschema.validate(compose, schema)
    services = compose["services"]
    assert {"bastion", "migrate", "postgres", "redis", "proxy"} <= services.keys()
    gateway = services["bastion"]
    assert gateway["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "--no-migrate" in gateway["command"]
    # The environment the compose file gives is what the mounted config asks for.
    assert set(gateway["environment"]) >= set(ENV)


def test_compose_runs_several_replicas_behind_one_address_sharing_every_secret() -> None:
    """Replicas without a port of their own behind the proxy; the shared secrets are required
    (`${VAR:?...}`, so a missing one stops `docker compose up`); no data directory is shared."""
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    gateway, proxy = services["bastion"], services["proxy"]
    assert gateway["deploy"]["replicas"] >= 2
    assert "ports" not in gateway, "the proxy is the one address"
    assert [str(p) for p in proxy["ports"]] == ["4000:4000"]
    for name in SHARED:
        assert gateway["environment"][name].startswith(f"${{{name}:?"), name
    for volume in gateway.get("volumes", []):
        assert not str(volume).split(":")[1].startswith("/var/lib/bastion"), "a data directory per replica"
    (mount,) = proxy["volumes"]
    source, target = mount.split(":")[:2]
    caddyfile = (DEPLOY / source).read_text()
    assert target == "/etc/caddy/Caddyfile"
    assert "dynamic a bastion 4000" in caddyfile, "the proxy finds every replica of the bastion service"
    assert "flush_interval -1" in caddyfile, "streamed answers are written through as they arrive"


def test_every_manifest_passes_the_kubernetes_schemas() -> None:
    manifests = _manifests()
    assert {doc["kind"] for _, doc in manifests} == {
        "Namespace",
        "Secret",
        "ConfigMap",
        "Job",
        "Deployment",
        "Service",
        "Ingress",
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


def test_the_gateway_pods_probe_real_routes_and_run_without_privileges(tmp_path: Path) -> None:
    manifests = {doc["kind"]: doc for _, doc in _manifests()}
    pod = manifests["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    routes = _routes(tmp_path)
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
    # The secret holds every variable the config reads from the environment, shared by every pod.
    secret = manifests["Secret"]["stringData"]
    assert set(secret) == set(ENV)
    assert {"secretRef": {"name": manifests["Secret"]["metadata"]["name"]}} in container["envFrom"]
    assert manifests["Deployment"]["spec"]["replicas"] >= 2
    # The data directory is the pod's own (an emptyDir), never a volume shared between pods.
    (data,) = (v for v in pod["volumes"] if v["name"] == "data")
    assert "emptyDir" in data


def test_the_ingress_reaches_the_service_over_tls_without_buffering_streams() -> None:
    manifests = {doc["kind"]: doc for _, doc in _manifests()}
    ingress, service = manifests["Ingress"], manifests["Service"]
    (rule,) = ingress["spec"]["rules"]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] in {port["name"] for port in service["spec"]["ports"]}
    (tls,) = ingress["spec"]["tls"]
    assert rule["host"] in tls["hosts"] and tls["secretName"]
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"


def test_a_replica_without_a_shared_secret_does_not_start() -> None:
    """Every shared secret is an os.environ/ reference: one missing is a named problem at start-up,
    not a replica quietly signing sessions with a secret of its own."""
    with pytest.raises(ConfigError) as caught:
        load_settings(DEPLOY / "config.yaml", environ={k: v for k, v in ENV.items() if k not in SHARED})
    for name in SHARED:
        assert f"environment variable {name} is not set" in str(caught.value)


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
        commands.append([re.sub(r"\$\{BASTION_WORKERS:-(\d+)\}", r"\1", part) for part in command])
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    (cmd,) = re.findall(r"^CMD (\[.*\])$", dockerfile, flags=re.M)
    commands.append(json.loads(cmd))
    for command in commands:
        parser.parse_args(command)  # exits (fails the test) on an unknown option


def test_the_image_runs_unprivileged_and_checks_its_health(tmp_path: Path) -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    users = re.findall(r"^USER (\S+)$", dockerfile, flags=re.M)
    assert users and users[-1].split(":")[0] not in ("0", "root")
    (health,) = re.findall(r"http://127\.0\.0\.1:4000(/[a-z/]+)", dockerfile)
    assert health in _routes(tmp_path)
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
    accounts = settings.bastion.accounts
    assert accounts.jwt_secret is not None and accounts.jwt_secret.reveal() == ENV["BASTION_JWT_SECRET"]
    assert [key.reveal() for key in accounts.encryption_keys] == [ENV["ENCRYPTION_KEY"]]
    assert accounts.first_superuser == ENV["FIRST_SUPERUSER"]
    configmap = next(doc for _, doc in _manifests() if doc["kind"] == "ConfigMap")
    assert yaml.safe_load(configmap["data"]["config.yaml"]) == yaml.safe_load(
        (DEPLOY / "config.yaml").read_text()
    ), "deploy/k8s/configmap.yaml holds deploy/config.yaml"


_SECTIONS = {
    "general_settings": known.GENERAL_SETTINGS_KEYS,
    "router_settings": known.ROUTER_SETTINGS_KEYS,
    "litellm_settings": known.LITELLM_SETTINGS_KEYS,
    "bastion_settings": known.BASTION_SETTINGS_KEYS,
    "bastion_settings.accounts": known.ACCOUNT_KEYS,
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
            section, _, key = name.rpartition(".") if name.count(".") > 1 else name.partition(".")
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
