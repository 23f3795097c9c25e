"""The mock upstream's deterministic answers, independent of any wire protocol.

An answer is N tokens, each a word from a fixed list (with a leading space except the first), or a
call to a tool with the arguments ``{"city": "Oslo"}``. Input tokens are a rough count of the words
in the request's text. Embeddings are vectors derived from a hash of their text.
"""

from __future__ import annotations

import base64
import hashlib
import random
import struct
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DEFAULT_TOKENS",
    "MAX_TOKENS",
    "THINKING_SIGNATURE",
    "THINKING_TEXT",
    "TOOL_ARGUMENTS",
    "TOOL_ARGUMENT_PIECES",
    "TOOL_INPUT",
    "Answer",
    "count_words",
    "embedding",
    "encode_base64_floats",
    "token_limit",
]

DEFAULT_TOKENS = 12
MAX_TOKENS = 4096
THINKING_TEXT = "Let me think."
THINKING_SIGNATURE = "sig-mock"
TOOL_INPUT: dict[str, Any] = {"city": "Oslo"}
TOOL_ARGUMENTS = '{"city": "Oslo"}'
# Streams send tool arguments in pieces, as real providers do; joined they give TOOL_ARGUMENTS.
TOOL_ARGUMENT_PIECES = ('{"city": ', '"Oslo"}')

_WORDS = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
    "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa",
)  # fmt: skip
_TOKENS = tuple(
    (_WORDS[i % len(_WORDS)] if i == 0 else " " + _WORDS[i % len(_WORDS)]) for i in range(MAX_TOKENS)
)
_TEXT_KEYS = frozenset({"content", "text", "system", "input", "prompt", "instructions"})


@dataclass(slots=True)
class Answer:
    """What the mock answers to one generation request."""

    tokens: tuple[str, ...]
    input_tokens: int
    tool: str | None = None
    thinking: bool = False

    @property
    def output_tokens(self) -> int:
        """Output tokens reported in usage: always the number of requested tokens."""
        return len(self.tokens)

    @property
    def text(self) -> str:
        """The whole answer text."""
        return "".join(self.tokens)

    @property
    def pieces(self) -> tuple[str, ...]:
        """What a stream sends, one frame each: the tokens, or the tool argument pieces."""
        return TOOL_ARGUMENT_PIECES if self.tool is not None else self.tokens

    @classmethod
    def build(
        cls, body: dict[str, Any], limit: object, tool: str | None, *, thinking: bool = False
    ) -> Answer:
        """The answer to ``body`` given its token limit field and the tool it must call, if any."""
        return cls(
            tokens=_TOKENS[: token_limit(limit)],
            input_tokens=max(1, count_words(body)),
            tool=tool,
            thinking=thinking,
        )


def token_limit(value: object) -> int:
    """N: the request's output token limit when it is a positive int (capped), else the default."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return min(value, MAX_TOKENS)
    return DEFAULT_TOKENS


def count_words(node: object, texty: bool = False) -> int:
    """Words in the request's text: strings under content/text/system/input/... keys, at any depth."""
    if isinstance(node, str):
        return len(node.split()) if texty else 0
    if isinstance(node, dict):
        return sum(count_words(value, key in _TEXT_KEYS) for key, value in node.items())
    if isinstance(node, list):
        return sum(count_words(item, texty) for item in node)
    return 0


def embedding(text: str, dims: int) -> list[float]:
    """A deterministic vector of ``dims`` floats in [-1, 1) for ``text``."""
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
    rng = random.Random(seed)
    # Rounded through float32 so float and base64 answers carry the very same numbers.
    return [struct.unpack("<f", struct.pack("<f", rng.uniform(-1.0, 1.0)))[0] for _ in range(dims)]


def encode_base64_floats(vector: list[float]) -> str:
    """Little-endian float32, base64: what the OpenAI SDK decodes for ``encoding_format=base64``."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
