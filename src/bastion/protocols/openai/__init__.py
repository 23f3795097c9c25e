"""The OpenAI Chat Completions wire protocol: requests, responses, streams, errors, embeddings.

Pure translations between OpenAI bodies and the canonical form in :mod:`bastion.protocols.canonical`;
no I/O.
"""

from __future__ import annotations

from bastion.protocols.openai.embeddings import (
    EmbeddingsRequest,
    decode_embeddings_request,
    encode_embeddings_response,
)
from bastion.protocols.openai.errors import parse_upstream_error, render_error, stream_error_event
from bastion.protocols.openai.request import decode_request, encode_request, with_stream_usage
from bastion.protocols.openai.response import decode_response, encode_response, usage_from_openai
from bastion.protocols.openai.stream import StreamDecoder, StreamEncoder

__all__ = [
    "EmbeddingsRequest",
    "StreamDecoder",
    "StreamEncoder",
    "decode_embeddings_request",
    "decode_request",
    "decode_response",
    "encode_embeddings_response",
    "encode_request",
    "encode_response",
    "parse_upstream_error",
    "render_error",
    "stream_error_event",
    "usage_from_openai",
    "with_stream_usage",
]
