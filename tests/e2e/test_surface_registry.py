"""Adding a surface is its protocol package plus one registration line (issue 13).

A fake surface, declared the way a protocol package declares one and added to the registration
list, gets its routes (chat through the pipeline, count_tokens), its own error envelope on every
refusal (a bad body, an unknown model, a wrong method) and its entry in ``/openapi.json``, with no
line of ``api/server.py`` touched. And the real surfaces' paths are written only in their packages.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from bastion.api import surfaces
from bastion.domain.errors import BastionError
from bastion.protocols.openai.wire import OpenAIWire
from bastion.protocols.surface import ErrorEnvelope, Operation, SurfaceSpec
from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, standard_models

AUTH = {"authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"}


class _FakeWire(OpenAIWire):
    """OpenAI's bodies under another name, with an error envelope no real surface uses."""

    __slots__ = ()
    name = "fake"

    def render_error(self, err: BastionError) -> tuple[int, bytes, dict[str, str]]:
        return err.status, orjson.dumps({"fake_error": {"says": err.message}}), {}


_FAKE = _FakeWire()
_SCHEMA = {"type": "object", "properties": {"fake_error": {"type": "object"}}, "required": ["fake_error"]}
_BODY = {"title": "Fake chat request", "type": "object", "additionalProperties": True}
FAKE = SurfaceSpec(
    _FAKE,
    ErrorEnvelope(_FAKE, "FakeError", _SCHEMA),
    "fake",
    (
        Operation("chat", ("/fake/v1/chat",), "Fake chat", _BODY),
        Operation("count_tokens", ("/fake/v1/chat/count",), "Fake count", _BODY),
    ),
    count_body=lambda body: body,
    count_answer=lambda count: orjson.dumps({"fake_tokens": count}),
)


def _call(gateway: RunningGateway, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = body if body is None or isinstance(body, bytes) else orjson.dumps(body)
    request = urllib.request.Request(gateway.url + path, data=data, method=method, headers=AUTH)
    try:
        with urllib.request.urlopen(request) as resp:
            return resp.status, orjson.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, orjson.loads(err.read())


@pytest.fixture
def faked(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, monkeypatch: pytest.MonkeyPatch
) -> RunningGateway:
    monkeypatch.setattr(surfaces, "SURFACES", (*surfaces.SURFACES, FAKE))  # the one registration line
    return start_gateway({"model_list": standard_models(upstream.url)})


def test_a_registered_surface_gets_its_routes_errors_and_openapi_entry(faked: RunningGateway) -> None:
    chat = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}
    status, answer = _call(faked, "POST", "/fake/v1/chat", chat)
    assert status == 200 and answer["choices"][0]["message"]["content"]
    status, answer = _call(faked, "POST", "/fake/v1/chat/count", chat)
    assert status == 200 and answer["fake_tokens"] > 0

    status, answer = _call(faked, "POST", "/fake/v1/chat", {"model": "nope", "messages": chat["messages"]})
    assert status in (400, 404) and "nope" in answer["fake_error"]["says"]
    status, answer = _call(faked, "POST", "/fake/v1/chat", b"{not json")
    assert status == 400 and "fake_error" in answer
    status, answer = _call(faked, "GET", "/fake/v1/chat")
    assert status == 405 and "POST" in answer["fake_error"]["says"]

    status, document = _call(faked, "GET", "/openapi.json")
    assert status == 200
    post = document["paths"]["/fake/v1/chat"]["post"]
    assert post["tags"] == ["fake"] and post["summary"] == "Fake chat"
    assert document["components"]["schemas"]["FakeError"] == _SCHEMA
    # The record names the new surface (the pipeline asked its wire format, not a list of names).
    assert any(record.surface == "fake" for record in _records(faked))


def _records(gateway: RunningGateway) -> list[Any]:
    found = []
    while not gateway.records.empty():
        found.append(gateway.records.get_nowait())
    return found


_API = Path(__file__).resolve().parents[2] / "src" / "bastion" / "api"


def test_the_surfaces_paths_are_written_only_in_their_protocol_packages() -> None:
    """No module of api/ spells a generation surface's path: server.py builds them from the list."""
    literals = {
        re.sub(r"\{[^}]*\}", "", path).rstrip("/:")
        for spec in surfaces.SURFACES
        for op in spec.operations
        for path in op.paths
    }
    literals = {lit for lit in literals if lit.count("/") >= 2}  # '/v1/responses', not '/v1beta/models/'
    for source in _API.rglob("*.py"):
        text = source.read_text()
        for literal in sorted(literals):
            assert f'"{literal}"' not in text, f"{source.name} names the surface path {literal}"
    server = (_API / "server.py").read_text()
    assert "import surfaces as registry" in server and "registry.SURFACES" in server
