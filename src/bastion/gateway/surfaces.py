"""What the gateway calls a client surface: a :class:`~bastion.protocols.wire.WireFormat`.

Each surface is declared by its protocol package (``protocols/<name>/surface.py``) and registered
in ``bastion.api.surfaces``; the gateway only asks the caller's wire format. ``OPENAI`` is named
here for ``/v2`` chat (``accounts/conversations.py``), which takes OpenAI-shaped requests.
"""

from __future__ import annotations

from bastion.protocols.openai.wire import OPENAI
from bastion.protocols.wire import StreamEncoder, WireFormat

__all__ = ["OPENAI", "StreamEncoder", "Surface"]

#: A client protocol, as the pipeline sees it.
Surface = WireFormat
