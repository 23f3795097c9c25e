"""Every runnable example in README.md and docs/*.md works against a real gateway on the demo config.

The documents are the source: each fenced block tagged ``python`` is run in a fresh namespace, each
``bash`` block (always a single ``curl`` command) is run by bash, both with the documented base URL
``http://localhost:4000`` pointed at a gateway started here on ``examples/demo.yaml``. A ``bash``
block answers 200 unless its fence says otherwise (```` ```bash expect=404 ````); a ``python``
block whose fence says ```` prints=WORD ```` must print that word. ``yaml`` blocks must parse, and
those holding a whole config (a ``model_list``) must load with the real loader. In README.md,
``console`` blocks run too: each ``$ command`` as printed (from the repository's root), and the
lines under it must be in its output; programs this machine cannot run here (the agents, docker,
kubectl) are only checked to exist in the docs' world, and ``make`` targets are dry-run. Elsewhere,
blocks that are not meant to run use other tags (``console``, ``text``, ``json``).

The documents are also checked as a whole: no link to a file or heading that is not there, no words
from the project's planning, every page of docs/ listed in the README, and every fixed route of the
gateway in the README's endpoint table.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
import yaml

from bastion.settings import load_settings
from bastion.testing.gateway import RunningGateway

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DOCUMENTED_URL = "http://localhost:4000"
DEMO_KEY = "sk-bastion-demo"

_FENCE = re.compile(r"^```([^\n`]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
_EXPECT = re.compile(r"\bexpect=(\d{3})\b")
_PRINTS = re.compile(r"\bprints=(\S+)")
_KEY = re.compile(r"\bsk-")

#: Variables the SDKs read on their own; an example must work whatever the caller's shell holds.
_SDK_VARIABLES = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "ANTHROPIC_BASE_URL",
    "GOOGLE_API_KEY",
    "GEMINI_API_KEY",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_CLOUD_PROJECT",
)


@dataclass(frozen=True)
class Block:
    """One fenced code block: where it is, its language tag, its options and its text."""

    document: Path
    line: int
    language: str
    options: str
    code: str

    @property
    def name(self) -> str:
        return f"{self.document.relative_to(ROOT)}:{self.line}"


def fenced_blocks(document: Path) -> Iterator[Block]:
    text = document.read_text(encoding="utf-8")
    for match in _FENCE.finditer(text):
        info = match.group(1).strip()
        language, _, options = info.partition(" ")
        line = text.count("\n", 0, match.start()) + 1
        yield Block(document, line, language, options, match.group(2))


ALL_BLOCKS = [block for document in DOCUMENTS for block in fenced_blocks(document)]
PYTHON = [block for block in ALL_BLOCKS if block.language == "python"]
CURL = [block for block in ALL_BLOCKS if block.language == "bash"]
YAML = [block for block in ALL_BLOCKS if block.language == "yaml"]
CONSOLE = [
    block for block in ALL_BLOCKS if block.language == "console" and block.document.name == "README.md"
]


@pytest.fixture(scope="module")
def demo_state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's state (SQLite file, signing secret) goes to a temporary directory, not examples/."""
    return tmp_path_factory.mktemp("demo-state")


@pytest.fixture(scope="module")
def demo_gateway(demo_state: Path) -> Iterator[RunningGateway]:
    settings = load_settings(ROOT / "examples" / "demo.yaml", environ={"BASTION_DATA_DIR": str(demo_state)})
    with RunningGateway(settings) as gateway:
        yield gateway


@pytest.fixture
def clean_sdk_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _SDK_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def test_documents_hold_the_promised_examples() -> None:
    """The quick start runs curl and all three SDKs, so a broken fence pattern cannot pass silently."""
    readme = [block.code for block in PYTHON + CURL if block.document.name == "README.md"]
    joined = "\n".join(readme)
    assert "from openai import OpenAI" in joined
    assert "import anthropic" in joined
    assert "from google import genai" in joined
    assert any(code.lstrip().startswith("curl") for code in readme)
    assert len(PYTHON) >= 6 and len(CURL) >= 4


@pytest.mark.parametrize("block", PYTHON, ids=lambda block: block.name)
@pytest.mark.usefixtures("clean_sdk_environment")
def test_python_example_runs(
    block: Block,
    demo_gateway: RunningGateway,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Python example runs to the end (against the demo gateway when it calls one, with only the
    demo keys and models), from the repository's root, and prints what its fence promises."""
    assert "http://" not in block.code.replace(DOCUMENTED_URL, ""), "examples call only the documented URL"
    assert not _KEY.search(block.code.replace(DEMO_KEY, "")), "examples use only the demo key"
    monkeypatch.chdir(ROOT)
    code = block.code.replace(DOCUMENTED_URL, demo_gateway.url)
    exec(compile(code, block.name, "exec"), {"__name__": "__docs__"})
    promised = _PRINTS.search(block.options)
    if promised:
        assert promised.group(1) in capsys.readouterr().out


@pytest.mark.parametrize("block", CURL, ids=lambda block: block.name)
def test_curl_example_answers(block: Block, demo_gateway: RunningGateway, tmp_path: Path) -> None:
    """A curl example exits 0 with the expected status and a JSON (or SSE of JSON) body."""
    command = block.code.strip()
    assert command.startswith("curl "), "bash blocks are runnable curl commands; use console otherwise"
    assert "|" not in command, "a curl example is a single command, not a pipeline"
    assert not _KEY.search(command.replace(DEMO_KEY, "")), "examples use only the demo key"
    # curl reads $CURL_HOME/.curlrc: the status is appended to the output without touching the command.
    (tmp_path / ".curlrc").write_text('write-out = "\\n%{http_code}"\nsilent\nshow-error\n')
    done = subprocess.run(
        ["bash", "-c", command.replace(DOCUMENTED_URL, demo_gateway.url)],
        capture_output=True,
        text=True,
        timeout=30,
        env={"CURL_HOME": str(tmp_path), "PATH": "/usr/bin:/bin:/usr/local/bin"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    body, _, status = done.stdout.rpartition("\n")
    found = _EXPECT.search(block.options)
    assert int(status) == (int(found.group(1)) if found else 200), body
    check_json_body(body)


def check_json_body(body: str) -> None:
    """A JSON document, or an SSE stream whose every ``data:`` line is JSON (or OpenAI's ``[DONE]``)."""
    text = body.strip()
    if not text.startswith(("data:", "event:")):
        orjson.loads(text)
        return
    data = [line[len("data:") :].strip() for line in text.splitlines() if line.startswith("data:")]
    assert data, "an event stream with no data lines"
    for item in data:
        if item != "[DONE]":
            orjson.loads(item)


class _AnyVariable(Mapping[str, str]):
    """An environment in which every ``os.environ/NAME`` a documented config names is set."""

    def __getitem__(self, name: str) -> str:
        return f"sk-docs-example-{name.lower()}"

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


@pytest.mark.parametrize("block", YAML, ids=lambda block: block.name)
def test_yaml_example_is_valid(block: Block, tmp_path: Path) -> None:
    """A YAML example parses; a whole config (with a model_list) passes Bastion's own loader."""
    data = yaml.safe_load(block.code)
    if not isinstance(data, dict) or "model_list" not in data:
        return
    path = tmp_path / "config.yaml"
    path.write_text(block.code)
    settings = load_settings(path, environ=_AnyVariable())
    assert settings.model_list


# ---------------------------------------------------------------------------- README commands

#: Programs a README command may start with that this test cannot run, and what is checked instead.
_OUTSIDE = {
    "claude": "an agent installed from npm (its own tests run it)",
    "opencode": "an agent installed from npm (its own tests run it)",
    "codex": "an agent installed from npm (its own tests run it)",
    "docker": "deploy/ is checked offline (tests/integration/test_deploy_files.py)",
    "kubectl": "deploy/ is checked offline (tests/integration/test_deploy_files.py)",
}


def console_steps(code: str) -> list[tuple[str, list[str]]]:
    """``$ command`` lines, each with the output lines printed under it."""
    steps: list[tuple[str, list[str]]] = []
    for line in code.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:].strip(), []))
        elif line.strip():
            assert steps, f"output before any command: {line}"
            steps[-1][1].append(line.strip())
    return steps


@pytest.mark.parametrize("block", CONSOLE, ids=lambda block: block.name)
def test_readme_command_works_as_printed(
    block: Block, demo_gateway: RunningGateway, demo_state: Path
) -> None:
    """A README command runs from the repository's root and prints the lines shown under it."""
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin:/usr/local/bin",
        "HOME": str(demo_state),
        "BASTION_DATA_DIR": str(demo_state),
    }
    prefix: list[str] = []
    for command, shown in console_steps(block.code):
        program = shlex.split(command)[0]
        if program in _OUTSIDE:
            continue
        if program == "export":
            prefix.append(command)
            continue
        if program == "make":
            done = subprocess.run(
                ["make", "-n", *shlex.split(command)[1:]],
                cwd=ROOT,
                capture_output=True,
                text=True,
                check=False,
            )
            assert done.returncode == 0, f"{command}: {done.stderr}"
            continue
        script = "\n".join([*prefix, command.replace(DOCUMENTED_URL, demo_gateway.url)])
        done = subprocess.run(
            ["bash", "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, env=env, check=False
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        printed = (done.stdout + done.stderr).splitlines()
        for line in shown:
            assert line in [p.strip() for p in printed], f"{command}: expected {line!r}, got {printed}"


def test_readme_commands_use_the_cli_as_installed() -> None:
    """After `make run` the CLI is .venv/bin/bastion: a README command never assumes it on the PATH."""
    for block in CONSOLE:
        for command, _ in console_steps(block.code):
            assert not command.startswith("bastion "), f"{block.name}: write .venv/bin/bastion"


# ---------------------------------------------------------------------------- the documents whole

_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
_PLANNING = re.compile(
    r"(?<![`'])\bseed(?:'s|s)?\b(?![`'])|\bissues? \d|\.\./shared/|llm-service-architecture", re.I
)
LINKED = [
    *DOCUMENTS,
    ROOT / "CONTRIBUTING.md",
    ROOT / "THREAT_MODEL.md",
    ROOT / "clients" / "js" / "README.md",
]


def _anchors(document: Path) -> set[str]:
    """GitHub's anchors for a Markdown file's headings."""
    text = _FENCE.sub("", document.read_text(encoding="utf-8"))
    anchors = set()
    for heading in re.findall(r"^#+ (.+)$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        anchors.add(slug)
    return anchors


@pytest.mark.parametrize("document", LINKED, ids=lambda document: str(document.relative_to(ROOT)))
def test_every_link_reaches_a_file_and_heading_that_exist(document: Path) -> None:
    text = _FENCE.sub("", document.read_text(encoding="utf-8"))
    for target in _LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        path, _, anchor = target.partition("#")
        found = (document.parent / path).resolve() if path else document
        assert found.exists(), f"{document.name}: link to {target}: no such file"
        if anchor and found.suffix == ".md":
            assert anchor in _anchors(found), f"{document.name}: link to {target}: no such heading"


@pytest.mark.parametrize("document", LINKED, ids=lambda document: str(document.relative_to(ROOT)))
def test_user_documents_hold_no_planning_words(document: Path) -> None:
    """Users never met the project's planning: no 'the seed's', no 'issue 2', no paths outside the repo."""
    found = [m.group(0) for m in _PLANNING.finditer(document.read_text(encoding="utf-8"))]
    assert found == []


def test_the_readme_lists_every_page_of_docs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    listed = readme.split("## Documentation", 1)[1]
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert f"(docs/{page.name})" in listed, f"docs/{page.name} is missing from the README's list"


def test_the_endpoint_table_names_every_fixed_route(demo_gateway: RunningGateway) -> None:
    """Every route of the demo gateway's route table with a fixed path is in the README's endpoint
    table (the pages under /ui/ and /v2/ are documented on their own pages, and the demo's
    ``static_files`` are the config's, not Bastion's)."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Endpoints", 1)[1].split("\n## ", 1)[0]
    assert demo_gateway.app is not None
    missing = sorted(
        endpoint.label
        for endpoint in demo_gateway.app.table.endpoints
        if "{" not in endpoint.path
        and not endpoint.path.startswith(("/ui/", "/v2/"))
        and not (endpoint.source or "").endswith("static_files")
        and f"`{endpoint.path}`" not in table
        and f" {endpoint.path}`" not in table
    )
    assert missing == []
