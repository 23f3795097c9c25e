"""The canonical embeddings request, and what a client protocol's embeddings codec does.

A surface's embeddings operation carries an :class:`EmbeddingsCodec` (its protocol package writes
it): the gateway's one ``EmbeddingsService.embed`` decodes the client's body with it, embeds the
texts on whichever provider serves the group (or forwards the body unchanged when the codec allows
it and the provider speaks the same protocol) and encodes the vectors back with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["EmbeddingsCall", "EmbeddingsCodec"]


@dataclass(frozen=True, slots=True)
class EmbeddingsCall:
    """One embeddings request in canonical form.

    ``inputs``: texts, or token-id lists (only a pass-through can send those on); ``dimensions``:
    the vectors' size, if asked; ``encoding_format``: how the answer writes them (the codec's own
    names); ``passthrough``: whether the client's body may go upstream unchanged when the provider
    speaks the client's protocol."""

    inputs: Sequence[str] | Sequence[Sequence[int]]
    dimensions: int | None = None
    encoding_format: str | None = None
    passthrough: bool = False


class EmbeddingsCodec(Protocol):
    """A client protocol's embeddings bodies: decode the request, encode the answer."""

    def decode(self, body: dict[str, Any], model: str) -> EmbeddingsCall:
        """The client's body (``model``: the model group asked for) -> :class:`EmbeddingsCall`;
        raises :class:`~bastion.domain.errors.InvalidRequestError` on a bad body."""
        ...

    def encode(self, vectors: list[list[float]], model: str, tokens: int, call: EmbeddingsCall) -> bytes:
        """The answer for ``vectors`` (in input order), the model group and the input tokens."""
        ...

    def passthrough_tokens(self, answer: dict[str, Any]) -> int:
        """The input tokens a pass-through answer (the provider's, in this protocol) reports."""
        ...
