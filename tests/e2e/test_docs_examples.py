"""Every runnable example in README.md and docs/*.md works against a real gateway on the demo config.

The documents are the source: each fenced block tagged ``python`` is run in a fresh namespace, each
``bash`` block (always a single ``curl`` command) is run by bash, both with the documented base URL
``http://localhost:4000`` pointed at a gateway started here on ``examples/demo.yaml``. A ``bash``
block answers 200 unless its fence says otherwise (```` ```bash expect=404 ````). ``yaml`` blocks
must parse, and those holding a whole config (a ``model_list``) must load with the real loader.
Blocks that are not meant to run use other tags (``console``, ``text``, ``json``).
"""

from __future__ import annotations

import re
import subprocess
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


@pytest.fixture(scope="module")
def demo_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningGateway]:
    # The demo's state (SQLite file, signing secret) goes to a temporary directory, not examples/.
    state = str(tmp_path_factory.mktemp("demo-state"))
    settings = load_settings(ROOT / "examples" / "demo.yaml", environ={"BASTION_DATA_DIR": state})
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
def test_python_example_runs(block: Block, demo_gateway: RunningGateway) -> None:
    """A Python example runs to the end against the demo gateway, using only demo keys and models."""
    assert DOCUMENTED_URL in block.code, "an example must talk to the documented gateway URL"
    assert not _KEY.search(block.code.replace(DEMO_KEY, "")), "examples use only the demo key"
    code = block.code.replace(DOCUMENTED_URL, demo_gateway.url)
    exec(compile(code, block.name, "exec"), {"__name__": "__docs__"})


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
