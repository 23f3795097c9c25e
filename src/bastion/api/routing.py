"""``POST /routing/dry-run`` (master key): where a request would go, without sending it.

The body is the request as a client would send it (any surface's shape; ``model`` names the
requested group), plus optional ``headers`` (the request headers the rules may look at) and
``team_id`` (the caller's team). The answer names the group the rules chose, the rule, the prompt
estimate the token bounds were compared with, and the group's deployments with their health.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from bastion.api.asgi import Request, Send, send_json
from bastion.domain.errors import InvalidRequestError
from bastion.domain.principal import ANONYMOUS
from bastion.gateway.router import Router
from bastion.gateway.routes import RouteTable

__all__ = ["RoutingDryRun"]


class RoutingDryRun:
    def __init__(self, routes: RouteTable, router: Router, body_limit: int) -> None:
        self._routes = routes
        self._router = router
        self._limit = body_limit

    async def handle(self, request: Request, send: Send) -> None:
        """The route table's master-key guard ran first; errors go out in OpenAI's envelope."""
        await send_json(send, 200, self.explain(await request.json(self._limit)))

    def explain(self, body: dict[str, Any]) -> dict[str, Any]:
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise InvalidRequestError("The dry run needs a 'model': the model group a client would ask for.")
        headers = body.get("headers") or {}
        if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
            raise InvalidRequestError("'headers' must be an object of header names to string values.")
        team = body.get("team_id")
        if team is not None and not isinstance(team, str):
            raise InvalidRequestError("'team_id' must be a string.")
        group = self._router.resolve(model)
        principal = replace(ANONYMOUS, team_id=team)
        choice = self._routes.choose(group, body, {k.lower(): v for k, v in headers.items()}, principal)
        health = self._router.health
        return {
            "model": model,
            "model_group": choice.group,
            "rule": choice.rule,
            "prompt_tokens": choice.prompt_tokens,
            "deployments": [
                {
                    "id": dep.deployment_id,
                    "model": f"{dep.provider_alias}/{dep.model}",
                    "cooling_down": health.cooling(dep.deployment_id),
                    "latency_ms": _ms(health.latency(dep.deployment_id)),
                }
                for dep in self._router.group(choice.group)
            ],
        }


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 2)
