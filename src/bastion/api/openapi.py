"""``GET /openapi.json``: an OpenAPI 3.1 document generated from the route table.

Every endpoint of the table is an operation: its path (``{model:path}`` written ``{model}``), who
may call it (``security`` and ``x-bastion-audience``), its request body's schema where the table
has one, what it answers and its error envelope. Nothing here is written by hand per route, so the
document cannot miss one (tests/unit/api/test_openapi.py checks that).
"""

from __future__ import annotations

import re
from typing import Any

from bastion import __version__
from bastion.api.endpoints import PUBLIC, Endpoint, EndpointTable
from bastion.api.error_formats import ClaimedErrors

__all__ = ["openapi_document"]

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::path)?\}")

_SECURITY_SCHEMES = {
    "gatewayKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "A Bastion key as 'Authorization: Bearer <key>'; the client surfaces also "
        "take it as 'x-api-key', 'api-key' or 'x-goog-api-key'.",
    },
    "accountToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token from POST /v2/login/access-token.",
    },
    "dashboardSession": {
        "type": "apiKey",
        "in": "cookie",
        "name": "bastion_session",
        "description": "The dashboard's session cookie, set by POST /ui/login.",
    },
}

_TAGS = {
    "openai": "OpenAI-compatible client surface",
    "anthropic": "Anthropic-compatible client surface",
    "gemini": "Gemini-compatible client surface",
    "tokenstream": "Browser token stream (bastion_settings.browser)",
    "management": "LiteLLM-compatible management API (master key)",
    "account": "Account API (/v2)",
    "dashboard": "Admin dashboard (HTML)",
    "health": "Health and metrics",
    "meta": "This document",
}


def openapi_document(table: EndpointTable) -> dict[str, Any]:
    """The OpenAPI document of every endpoint in ``table``."""
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    used_tags: dict[str, None] = {}
    for endpoint in table.endpoints:
        path = _PARAM.sub(r"{\1}", endpoint.path)
        operation = _operation(endpoint, path)
        paths.setdefault(path, {})[endpoint.method.lower()] = operation
        schemas[endpoint.errors.schema_name] = dict(endpoint.errors.schema)
        if endpoint.tag:
            used_tags[endpoint.tag] = None
        if isinstance(endpoint.errors, ClaimedErrors):  # its oneOf refers to the surfaces' own
            for errors in (endpoint.errors.default, *(found for _, found in endpoint.errors.choices)):
                schemas.setdefault(errors.schema_name, dict(errors.schema))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Bastion LLM gateway",
            "version": __version__,
            "description": "OpenAI-, Anthropic- and Gemini-compatible client surfaces, LiteLLM's "
            "management API, the account API and the browser token stream of one gateway.",
        },
        "tags": [{"name": tag, "description": _TAGS.get(tag, tag)} for tag in used_tags],
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": _SECURITY_SCHEMES},
    }


def _operation(endpoint: Endpoint, path: str) -> dict[str, Any]:
    audience = endpoint.audience
    operation: dict[str, Any] = {
        "operationId": _operation_id(endpoint.method, path),
        "summary": endpoint.summary or endpoint.label,
        "x-bastion-audience": audience.name,
        "description": f"Who may call it: {audience.description}",
        "security": [] if audience is PUBLIC or audience.scheme is None else [{audience.scheme: []}],
    }
    if endpoint.tag:
        operation["tags"] = [endpoint.tag]
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PARAM.findall(endpoint.path)
    ]
    parameters.extend(
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in endpoint.query
    )
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": dict(endpoint.body)}},
        }
    error = {"$ref": f"#/components/schemas/{endpoint.errors.schema_name}"}
    operation["responses"] = {
        "200": {
            "description": "Success",
            "content": {kind.strip(): {} for kind in endpoint.produces.split(",")},
        },
        "default": {
            "description": "An error, in this API's own envelope",
            "content": {endpoint.errors.media_type: {"schema": error}},
        },
    }
    return operation


def _operation_id(method: str, path: str) -> str:
    words = re.sub(r"[^A-Za-z0-9]+", "_", path).strip("_")
    return f"{method.lower()}_{words or 'root'}"
