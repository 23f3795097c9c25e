"""The model listings' routes, built from what the surfaces declare.

Each protocol package declares its listing operations (``models``: the groups the caller may use;
``model``: one group) with the encoder of its shape. Several surfaces may list at one path
(``GET /v1/models``): the route table still holds one endpoint there, whose handler lets the first
surface whose ``claims`` recognises the caller's headers answer, else the one that claims nothing;
its errors are chosen the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bastion.api import catalog
from bastion.api.asgi import Request, Send, send_bytes
from bastion.api.endpoints import CLIENT, Endpoint
from bastion.api.error_formats import ErrorFormat, claimed_errors, surface_errors
from bastion.domain.errors import ConfigError
from bastion.domain.principal import Principal
from bastion.gateway.router import Router
from bastion.protocols.surface import Operation, SurfaceSpec

__all__ = ["LISTINGS", "listing_endpoints"]

#: The operation kinds that list model groups.
LISTINGS = frozenset({"models", "model"})

Declared = list[tuple[SurfaceSpec, Operation]]


def listing_endpoints(
    surfaces: Sequence[SurfaceSpec], router: Router, admit: Callable[[Principal, Any], str]
) -> list[Endpoint]:
    """One endpoint per (method, path) the ``surfaces`` list at; ``admit`` checks that the caller
    may use the one group a ``model`` operation names (and resolves it)."""
    by_path: dict[tuple[str, str], Declared] = {}
    for spec in surfaces:
        for op in spec.operations:
            if op.kind in LISTINGS:
                for path in op.paths:
                    by_path.setdefault((op.method, path), []).append((spec, op))
    found = []
    for (method, path), declared in by_path.items():
        plain = declared if len(declared) == 1 else [(s, op) for s, op in declared if s.claims is None]
        if len(plain) != 1:
            tags = ", ".join(spec.tag for spec, _ in plain) or "none"
            raise ConfigError(f"{method} {path}: one listing surface must claim no caller (found: {tags})")
        spec, op = plain[0]
        claimed = [(s.claims, o) for s, o in declared if s.claims is not None and o is not op]
        errors: ErrorFormat = (
            claimed_errors(s for s, _ in declared) if claimed else surface_errors(spec.errors)
        )
        handler = _handler(path, declared, claimed, op, router, admit)
        found.append(Endpoint(method, path, handler, CLIENT, errors, summary=op.summary, tag=spec.tag))
    return found


def _handler(
    path: str,
    declared: Declared,
    claimed: Sequence[tuple[Callable[[Mapping[str, str]], bool], Operation]],
    fallback: Operation,
    router: Router,
    admit: Callable[[Principal, Any], str],
) -> Callable[[Request, Send], Any]:
    for _, op in declared:
        if op.listing is None:
            raise ConfigError(f"{op.method} {path}: a '{op.kind}' operation declares no listing")

    async def listing(request: Request, send: Send) -> None:
        headers = request.headers
        op = next((op for claims, op in claimed if claims(headers)), fallback)
        assert op.listing is not None
        if op.kind == "model":
            name = request.params["model"]
            found = [catalog.entry(router, name, admit(request.caller, name))]
        else:
            found = catalog.listed(router, request.caller)
        await send_bytes(send, 200, op.listing(found))

    return listing
