"""Routing rules (``bastion_settings.routes``) and context-window fallbacks: which model group
actually serves a request.

Rules are tried in config order and the first whose every condition holds wins: estimated prompt
tokens above / below a bound, tools or images present, a request tag (``metadata.tags``, ``tags``
or the ``x-litellm-tags`` header) or header value, the caller's team, the UTC time of day. Then, if
the prompt is estimated larger than every deployment of the chosen group accepts
(``model_info.max_input_tokens``), LiteLLM's ``context_window_fallbacks`` name a group that fits
(recorded as rule ``context_window_fallback``, or ``<rule>+context_window_fallback``).

The chosen group and what chose it go on the usage record (spend log metadata) and in the
``x-bastion-route`` and ``x-bastion-model-group`` response headers.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bastion.domain.principal import Principal
from bastion.gateway.admission import estimate_prompt_tokens
from bastion.settings import Deployment, RouteRule, Settings

__all__ = ["CONTEXT_WINDOW_RULE", "RouteChoice", "RouteTable"]

#: The rule name recorded when a context-window fallback chose the group.
CONTEXT_WINDOW_RULE = "context_window_fallback"

_IMAGE_TYPES = frozenset({"image_url", "image", "input_image"})


@dataclass(frozen=True, slots=True)
class RouteChoice:
    group: str
    #: The rule that chose ``group``, or None when the requested group serves.
    rule: str | None
    prompt_tokens: int


class RouteTable:
    def __init__(self, settings: Settings, *, clock: Callable[[], float] = time.time) -> None:
        self._rules = settings.bastion.routes
        self._window_fallbacks = settings.context_window_fallbacks
        self._limits = {name: _max_input(deps) for name, deps in settings.model_groups.items()}
        self._clock = clock

    @property
    def active(self) -> bool:
        return bool(self._rules or self._window_fallbacks)

    def choose(
        self, group: str, body: Mapping[str, Any], headers: Mapping[str, str], principal: Principal
    ) -> RouteChoice:
        prompt = estimate_prompt_tokens(body)
        chosen, rule = group, None
        for candidate in self._rules:
            if self._matches(candidate, group, prompt, body, headers, principal):
                chosen, rule = candidate.to, candidate.name
                break
        limit = self._limits.get(chosen)
        if limit is not None and prompt > limit:
            for bigger in self._window_fallbacks.get(chosen, ()):
                room = self._limits.get(bigger)
                if room is None or prompt <= room:
                    chosen = bigger
                    rule = CONTEXT_WINDOW_RULE if rule is None else f"{rule}+{CONTEXT_WINDOW_RULE}"
                    break
        return RouteChoice(chosen, rule, prompt)

    def _matches(
        self,
        rule: RouteRule,
        group: str,
        prompt: int,
        body: Mapping[str, Any],
        headers: Mapping[str, str],
        principal: Principal,
    ) -> bool:
        if rule.models and group not in rule.models:
            return False
        if rule.prompt_tokens_above is not None and prompt <= rule.prompt_tokens_above:
            return False
        if rule.prompt_tokens_below is not None and prompt >= rule.prompt_tokens_below:
            return False
        if rule.tools is not None and has_tools(body) != rule.tools:
            return False
        if rule.images is not None and has_images(body) != rule.images:
            return False
        if rule.tags and not set(rule.tags) & request_tags(body, headers):
            return False
        if any(headers.get(name) != value for name, value in rule.headers.items()):
            return False
        if rule.teams and principal.team_id not in rule.teams:
            return False
        return rule.time is None or _in_window(rule.time, self._clock())


def has_tools(body: Mapping[str, Any]) -> bool:
    return bool(body.get("tools") or body.get("functions"))


def has_images(body: Mapping[str, Any]) -> bool:
    """An image anywhere in the messages (OpenAI, Anthropic), contents (Gemini) or input items
    (the Responses API)."""
    turns = body.get("messages") or body.get("contents") or body.get("input")
    for message in turns if isinstance(turns, list) else ():
        if not isinstance(message, dict):
            continue
        parts = message.get("content", message.get("parts"))
        if not isinstance(parts, list):
            continue
        for part in parts:
            if not isinstance(part, dict):
                continue
            if part.get("type") in _IMAGE_TYPES:
                return True
            inline = part.get("inlineData") or part.get("inline_data") or part.get("fileData")
            if isinstance(inline, dict):
                mime = inline.get("mimeType") or inline.get("mime_type") or ""
                if isinstance(mime, str) and mime.startswith("image/"):
                    return True
    return False


def request_tags(body: Mapping[str, Any], headers: Mapping[str, str]) -> set[str]:
    tags: set[str] = set()
    metadata = body.get("metadata")
    for source in (metadata.get("tags") if isinstance(metadata, dict) else None, body.get("tags")):
        if isinstance(source, list):
            tags.update(tag for tag in source if isinstance(tag, str))
    header = headers.get("x-litellm-tags")
    if header:
        tags.update(tag.strip() for tag in header.split(",") if tag.strip())
    return tags


def _max_input(deployments: tuple[Deployment, ...]) -> int | None:
    """The largest prompt the group accepts; None when some deployment does not say."""
    limits = [dep.model_info.max_input_tokens for dep in deployments]
    known = [limit for limit in limits if limit is not None]
    return max(known) if known and len(known) == len(limits) else None


def _in_window(window: tuple[int, int], now: float) -> bool:
    minute = int(now // 60) % (24 * 60)
    start, end = window
    if start <= end:
        return start <= minute < end
    return minute >= start or minute < end
