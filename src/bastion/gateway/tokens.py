"""Counting a prompt's tokens: asked of the provider when it can answer, estimated locally otherwise.

An Anthropic-backed group forwards ``/v1/messages/count_tokens`` and a Gemini-backed group
``:countTokens`` to the provider (exact counts). Other providers have no counting endpoint, and an
Anthropic-compatible server may lack one too; then the local estimate answers, which is what Claude
Code itself falls back to.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import orjson

from bastion.domain.errors import BastionError
from bastion.gateway.chat import ChatService
from bastion.gateway.context import CallContext
from bastion.protocols.anthropic.count_tokens import estimate_input_tokens
from bastion.providers.http import HttpPool
from bastion.settings import Deployment

__all__ = ["TokenCounter"]

_log = logging.getLogger("bastion.gateway")


class TokenCounter:
    def __init__(
        self, chat: ChatService, http: HttpPool, *, router_groups: Callable[[str], tuple[Deployment, ...]]
    ) -> None:
        self._chat = chat
        self._http = http
        self._groups = router_groups

    async def count(self, ctx: CallContext, body: dict[str, Any], group: str) -> int:
        """Input tokens of ``body`` (in the caller's surface format) for model group ``group``."""
        dep = self._groups(group)[0]
        if dep.provider == ctx.surface.name and dep.provider in ("anthropic", "gemini"):
            try:
                return await self._ask_provider(ctx, dict(body), dep)
            except BastionError as err:
                _log.info("token count from %s failed (%s); estimating locally", dep.deployment_id, err)
        canonical = ctx.surface.decode_request(body, group, stream=False)
        return estimate_input_tokens(canonical)

    async def _ask_provider(self, ctx: CallContext, body: dict[str, Any], dep: Deployment) -> int:
        adapter = self._chat.adapter_for(dep)
        upstream = adapter.chat_request(dep, body, stream=False, client_headers=ctx.headers)
        if dep.provider == "anthropic":
            url, key = upstream.url + "/count_tokens", "input_tokens"
            payload = orjson.loads(upstream.body)
            payload.pop("max_tokens", None)
            data = orjson.dumps(payload)
        else:
            url, key = upstream.url.replace(":generateContent", ":countTokens"), "totalTokens"
            data = upstream.body
        status, headers, answer = await self._http.post(
            url, data, upstream.headers, timeout=self._chat.timeout_for(dep)
        )
        if status >= 400:
            raise adapter.error(status, answer, headers)
        count = orjson.loads(answer).get(key)
        if not isinstance(count, int):
            raise adapter.error(502, b"token count missing", headers)
        return count
