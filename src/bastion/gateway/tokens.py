"""Counting a prompt's tokens: asked of the provider when it can answer, estimated locally otherwise.

When the caller speaks the group's provider protocol and the provider adapter has a counting
endpoint (Anthropic's ``/v1/messages/count_tokens``, Gemini's ``:countTokens``; the adapter owns the
URL), the provider counts exactly. Otherwise, or when that call fails (an Anthropic-compatible
server may lack the endpoint), the local estimate answers, which is what Claude Code itself falls
back to.
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
from bastion.providers.base import ProviderAdapter, UpstreamRequest
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
        adapter = self._chat.adapter_for(dep)
        if adapter.protocol == ctx.surface.passthrough:
            upstream = adapter.count_tokens_request(dep, body, client_headers=ctx.headers)
            if upstream is not None:
                try:
                    return await self._ask_provider(adapter, upstream, dep)
                except BastionError as err:
                    _log.info("token count from %s failed (%s); estimating locally", dep.deployment_id, err)
        canonical = ctx.surface.decode_request(body, group, stream=False)
        return estimate_input_tokens(canonical)

    async def _ask_provider(
        self, adapter: ProviderAdapter, upstream: UpstreamRequest, dep: Deployment
    ) -> int:
        status, headers, answer = await self._http.post(
            upstream.url, upstream.body, upstream.headers, timeout=self._chat.timeout_for(dep)
        )
        if status >= 400:
            raise adapter.error(status, answer, headers)
        try:
            parsed = orjson.loads(answer)
        except orjson.JSONDecodeError:
            parsed = None
        count = adapter.token_count(parsed) if isinstance(parsed, dict) else None
        if count is None:
            raise adapter.error(502, b"token count missing", headers)
        return count
