"""The client surfaces the gateway serves: the one registration list.

Each protocol package declares its surface (paths, methods, error envelope, request schemas) in
its ``surface.py``; :class:`~bastion.api.server.GatewayApp` builds their routes from this list.
Adding a surface is its protocol package plus one line here.
"""

from __future__ import annotations

from bastion.protocols.anthropic.surface import SURFACE as ANTHROPIC
from bastion.protocols.gemini.surface import SURFACE as GEMINI
from bastion.protocols.openai.surface import SURFACE as OPENAI
from bastion.protocols.openai_responses.surface import SURFACE as RESPONSES
from bastion.protocols.surface import SurfaceSpec

__all__ = ["SURFACES"]

SURFACES: tuple[SurfaceSpec, ...] = (OPENAI, ANTHROPIC, GEMINI, RESPONSES)
