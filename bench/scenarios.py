"""The benchmark's steps: what is sent, at which concurrency, and how much of it.

Every step is bounded twice (a number of requests and a time limit) and preceded by a warm-up, so a
full run of every scenario against three targets stays within about five minutes on two cores.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

__all__ = ["CHAT", "RESPONSES", "SCENARIOS", "Scenario", "select"]

_TEXT = "Tell me something about the sea in a few words."
_PROMPT = [{"role": "user", "content": _TEXT}]
#: The two APIs a step can call: chat completions, or the Responses API (``/v1/responses``).
CHAT, RESPONSES = "chat", "responses"


@dataclass(frozen=True)
class Scenario:
    """One measured step, run against each target in turn."""

    name: str
    label: str
    stream: bool
    concurrency: int
    requests: int
    seconds: float
    warmup_requests: int
    warmup_seconds: float
    max_tokens: int
    api: str = CHAT

    def body(self, model: str) -> dict[str, Any]:
        """The request sent on every call of this step: a chat completion, or the equivalent
        Responses API request (same prompt, same token limit; its stream has no usage option)."""
        if self.api == RESPONSES:
            answer: dict[str, Any] = {"model": model, "input": _TEXT, "max_output_tokens": self.max_tokens}
            if self.stream:
                answer["stream"] = True
            return answer
        body: dict[str, Any] = {"model": model, "messages": _PROMPT, "max_tokens": self.max_tokens}
        if self.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def quick(self) -> Scenario:
        """A smoke-sized copy: a tenth of the requests, a quarter of the time."""
        return replace(
            self,
            requests=max(self.concurrency, self.requests // 10),
            seconds=max(1.0, self.seconds / 4),
            warmup_requests=max(self.concurrency, self.warmup_requests // 5),
            warmup_seconds=min(self.warmup_seconds, 0.5),
        )


SCENARIOS = (
    Scenario("nonstream-c1", "non-streaming, concurrency 1", False, 1, 3000, 6.0, 100, 1.0, 16),
    Scenario("nonstream-c16", "non-streaming, concurrency 16", False, 16, 30000, 8.0, 800, 1.0, 16),
    Scenario("nonstream-c64", "non-streaming, concurrency 64", False, 64, 30000, 8.0, 1500, 1.0, 16),
    Scenario("stream-c1", "streaming 100 tokens, concurrency 1", True, 1, 300, 6.0, 5, 1.0, 100),
    Scenario("stream-c32", "streaming 100 tokens, concurrency 32", True, 32, 3000, 8.0, 64, 1.0, 100),
)

# The same calls through the Responses API, sized as the chat steps they mirror (``select`` matches
# names by prefix: ``--scenario responses`` picks these three).
SCENARIOS += tuple(
    replace(step, name=f"responses-{step.name}", label=f"Responses API, {step.label}", api=RESPONSES)
    for step in SCENARIOS
    if step.name in ("nonstream-c1", "nonstream-c16", "stream-c1")
)


def select(patterns: str | None, *, quick: bool) -> list[Scenario]:
    """The scenarios named by ``patterns`` (comma-separated names or name prefixes such as ``stream``
    or ``nonstream-c16``; all when None), smoke-sized when ``quick``."""
    wanted = [p.strip() for p in patterns.split(",") if p.strip()] if patterns else []
    chosen = [s for s in SCENARIOS if not wanted or any(s.name.startswith(p) for p in wanted)]
    return [s.quick() for s in chosen] if quick else chosen
