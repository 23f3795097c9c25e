"""``/openapi.json`` is generated from the route table: every route is in it, described."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bastion.administration.key_fields import GENERATE_FIELDS, IGNORED_LITELLM_KEY_FIELDS
from bastion.administration.teams import TEAM_FIELDS
from bastion.api.endpoints import PUBLIC
from bastion.api.openapi import openapi_document
from bastion.api.server import GatewayApp
from bastion.app import build_app
from bastion.settings import Settings

_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


@pytest.fixture
def app(write_config: Callable[[dict[str, Any]], Settings], tmp_path: Path) -> GatewayApp:
    """A gateway with every optional router on: the browser endpoints and demo files too."""
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "index.html").write_text("<p>hi</p>")
    config = {
        "model_list": [{"model_name": "m", "litellm_params": {"model": "mock/x"}}],
        "bastion_settings": {"browser": {"models": ["m"], "static_files": {"/demo": str(tmp_path / "demo")}}},
    }
    return build_app(write_config(config), migrate=False)


def test_every_route_of_the_table_is_an_operation(app: GatewayApp) -> None:
    """Same routes both ways: nothing documented that is not served, nothing served undocumented."""
    document = openapi_document(app.table)
    served = {(e.method.lower(), re.sub(r"\{(\w+):path\}", r"{\1}", e.path)) for e in app.table.endpoints}
    documented = {
        (method, path) for path, item in document["paths"].items() for method in item if method in _METHODS
    }
    assert documented == served
    assert len(served) == len(app.table.endpoints)  # no two routes collapse into one operation
    assert {
        ("post", "/v1/chat/completions"),
        ("post", "/v1beta/models/{model}:generateContent"),
        ("post", "/key/{key}/regenerate"),
        ("get", "/v2/users/{user_id}"),
        ("post", "/api/token"),
        ("get", "/demo/{file}"),
        ("post", "/ui/keys/create"),
        ("get", "/openapi.json"),
    } <= documented


def test_each_operation_says_who_may_call_it_and_how_it_fails(app: GatewayApp) -> None:
    document = openapi_document(app.table)
    schemes = document["components"]["securitySchemes"]
    schemas = document["components"]["schemas"]
    ids: set[str] = set()
    for endpoint in app.table.endpoints:
        path = re.sub(r"\{(\w+):path\}", r"{\1}", endpoint.path)
        operation = document["paths"][path][endpoint.method.lower()]
        assert operation["operationId"] not in ids
        ids.add(operation["operationId"])
        assert operation["x-bastion-audience"] == endpoint.audience.name
        if endpoint.audience is PUBLIC:
            assert operation["security"] == []
        else:
            ((scheme, _),) = operation["security"][0].items()
            assert scheme in schemes
        error = operation["responses"]["default"]["content"]
        ((_, body),) = error.items()
        assert body["schema"]["$ref"].removeprefix("#/components/schemas/") in schemas
        names = re.findall(r"\{(\w+)", endpoint.path)
        assert [p["name"] for p in operation.get("parameters", []) if p["in"] == "path"] == names


def test_the_management_bodies_name_litellm_fields(app: GatewayApp) -> None:
    """The management API's fields are described, the ignored LiteLLM ones marked as such."""
    paths = openapi_document(app.table)["paths"]
    schema = paths["/key/generate"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(schema["properties"]) == GENERATE_FIELDS | IGNORED_LITELLM_KEY_FIELDS
    assert schema["properties"]["max_budget"]["type"] == "number"
    assert "ignored" in schema["properties"]["soft_budget"]["description"]
    team = paths["/team/update"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(team["properties"]) == TEAM_FIELDS and team["required"] == ["team_id"]
    chat = paths["/v1/chat/completions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert chat["required"] == ["model", "messages"] and "openai.com" in chat["externalDocs"]["url"]
    assert paths["/key/list"]["get"]["parameters"][0]["in"] == "query"
