"""The model listings' routes: one per path, and a shared path needs exactly one default surface."""

from __future__ import annotations

from typing import Any, cast

import pytest

from bastion.api.error_formats import ClaimedErrors, SurfaceErrors
from bastion.api.listings import listing_endpoints
from bastion.api.surfaces import SURFACES
from bastion.domain.errors import ConfigError
from bastion.gateway.router import Router
from bastion.protocols.openai.surface import ERRORS
from bastion.protocols.openai.wire import OPENAI
from bastion.protocols.surface import Operation, SurfaceSpec

_ROUTER = cast(Router, object())  # read only when a listing answers


def _admit(principal: Any, model: Any) -> str:
    return str(model)


def _spec(tag: str, *ops: Operation, claims: Any = None) -> SurfaceSpec:
    return SurfaceSpec(OPENAI, ERRORS, tag, ops, claims=claims)


def _listing(paths: tuple[str, ...], **kw: Any) -> Operation:
    return Operation("models", paths, "list", method="GET", listing=lambda found: b"{}", **kw)


def test_the_registered_surfaces_share_each_listing_path_in_one_route() -> None:
    endpoints = listing_endpoints(SURFACES, _ROUTER, _admit)
    labels = [endpoint.label for endpoint in endpoints]
    assert len(labels) == len(set(labels))
    assert {"GET /v1/models", "GET /models", "GET /v1/models/{model:path}", "GET /v1beta/models"} <= set(
        labels
    )
    shared = next(e for e in endpoints if e.path == "/v1/models")
    assert isinstance(shared.errors, ClaimedErrors) and shared.tag == "openai"
    assert shared.errors.pick({"anthropic-version": "2023-06-01"}).schema_name == "AnthropicError"
    assert shared.errors.pick({"x-goog-api-key": "k"}).schema_name == "GeminiError"
    assert shared.errors.pick({}).schema_name == "OpenAIError"
    alone = next(e for e in endpoints if e.path == "/v1beta/models")
    assert isinstance(alone.errors, SurfaceErrors) and alone.errors.schema_name == "GeminiError"


def test_two_surfaces_that_claim_no_caller_on_one_path_are_refused() -> None:
    one, two = _spec("one", _listing(("/v1/models",))), _spec("two", _listing(("/v1/models",)))
    with pytest.raises(
        ConfigError, match=r"GET /v1/models: one listing surface must claim no caller.*one, two"
    ):
        listing_endpoints([one, two], _ROUTER, _admit)
    claimed = _spec("two", _listing(("/v1/models",)), claims=lambda headers: "x-two" in headers)
    assert [e.label for e in listing_endpoints([one, claimed], _ROUTER, _admit)] == ["GET /v1/models"]


def test_a_listing_operation_without_an_encoder_is_refused() -> None:
    bare = _spec("bare", Operation("models", ("/bare/models",), "list", method="GET"))
    with pytest.raises(ConfigError, match="declares no listing"):
        listing_endpoints([bare], _ROUTER, _admit)
