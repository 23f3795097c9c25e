"""The client-facing wire formats the pipeline serves; each lives in its protocol package.

A surface is a :class:`~bastion.protocols.wire.WireFormat`; this module only names them for the
gateway and the API, so adding a surface is its protocol package plus one line here.
"""

from __future__ import annotations

from bastion.protocols.anthropic.wire import ANTHROPIC
from bastion.protocols.gemini.wire import GEMINI
from bastion.protocols.openai.wire import OPENAI
from bastion.protocols.tokenstream.wire import TOKENSTREAM_ANTHROPIC, TOKENSTREAM_OPENAI
from bastion.protocols.wire import StreamEncoder, WireFormat

__all__ = [
    "ANTHROPIC",
    "GEMINI",
    "OPENAI",
    "TOKENSTREAM_ANTHROPIC",
    "TOKENSTREAM_OPENAI",
    "StreamEncoder",
    "Surface",
]

#: A client protocol, as the pipeline sees it.
Surface = WireFormat
