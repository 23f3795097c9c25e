"""The canonical form every translation goes through (N + M adapters, never N x M).

A surface (what the client speaks) decodes its request into a :class:`ChatRequest`; a provider of a
different protocol encodes that into its own wire format, decodes the answer into a
:class:`ChatResponse` (or a stream of :data:`StreamEvent`), and the surface encodes that back.

The shapes follow the richest of the three protocols (Anthropic's content blocks and stream events)
so nothing is lost in the middle:

* roles are ``user`` and ``assistant`` only; the system prompt is separate; tool results are
  :class:`ToolResultPart` blocks inside a ``user`` message (OpenAI ``tool`` messages fold into them);
* tool-call arguments are a parsed JSON object (``dict``), never a string;
* a stream is ``MessageStart``, then per content block ``BlockStart`` / ``BlockDelta``... /
  ``BlockStop`` (blocks strictly sequential, ``index`` = position in the final content), then
  ``MessageEnd`` carrying the stop reason and the cumulative usage.

Pure data: no I/O, no wire details.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from bastion.domain.usage import Usage

__all__ = [
    "BlockDelta",
    "BlockStart",
    "BlockStop",
    "ChatRequest",
    "ChatResponse",
    "ContentPart",
    "DeltaKind",
    "DocumentPart",
    "ImagePart",
    "Message",
    "MessageEnd",
    "MessageStart",
    "RedactedThinkingPart",
    "Role",
    "StopReason",
    "StreamError",
    "StreamEvent",
    "TextPart",
    "ThinkingPart",
    "Tool",
    "ToolCallPart",
    "ToolChoice",
    "ToolResultPart",
]

Role = Literal["user", "assistant"]

#: Canonical stop reasons (Anthropic's names). Mapping per protocol lives in each protocol package.
StopReason = Literal["end_turn", "max_tokens", "stop_sequence", "tool_use", "refusal", "pause_turn"]


@dataclass(slots=True)
class TextPart:
    text: str
    #: Anthropic prompt-caching marker, kept when the target protocol can carry it.
    cache_control: dict[str, Any] | None = None


@dataclass(slots=True)
class ImagePart:
    """An image, either inline (``data`` base64 + ``media_type``) or by ``url``."""

    media_type: str | None = None
    data: str | None = None
    url: str | None = None
    #: OpenAI's ``detail`` hint (``auto``/``low``/``high``).
    detail: str | None = None


@dataclass(slots=True)
class DocumentPart:
    """A document such as a PDF, inline (``data`` base64 + ``media_type``) or by ``url``."""

    media_type: str | None = None
    data: str | None = None
    url: str | None = None
    filename: str | None = None


@dataclass(slots=True)
class ToolCallPart:
    """An assistant's call of a tool. ``arguments`` is the parsed JSON object."""

    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
    #: Gemini 3 ``thoughtSignature`` that must come back unchanged with the call.
    signature: str | None = None


@dataclass(slots=True)
class ToolResultPart:
    """The result of a tool call, sent back in a ``user`` message."""

    tool_call_id: str
    content: list[ContentPart] = field(default_factory=list)
    is_error: bool = False
    #: The tool's name; Gemini needs it, and it can be looked up from the matching call.
    name: str | None = None


@dataclass(slots=True)
class ThinkingPart:
    """Visible reasoning with its signature (Anthropic ``thinking``, Gemini ``thought`` parts)."""

    text: str
    signature: str | None = None


@dataclass(slots=True)
class RedactedThinkingPart:
    data: str


ContentPart = (
    TextPart | ImagePart | DocumentPart | ToolCallPart | ToolResultPart | ThinkingPart | RedactedThinkingPart
)


@dataclass(slots=True)
class Message:
    role: Role
    content: list[ContentPart]


@dataclass(slots=True)
class Tool:
    name: str
    description: str | None = None
    #: JSON schema of the arguments (an object schema).
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(slots=True)
class ToolChoice:
    """``auto``: model decides; ``any``: must call some tool; ``none``: no tools; ``tool``: call ``name``."""

    mode: Literal["auto", "any", "none", "tool"] = "auto"
    name: str | None = None
    #: ``False`` forbids several calls in one turn (OpenAI ``parallel_tool_calls``).
    parallel: bool | None = None


@dataclass(slots=True)
class ChatRequest:
    """One generation request in canonical form.

    ``extra`` holds fields of the source protocol with no canonical meaning; a translator drops
    them (when ``drop_params`` is on) or refuses the request naming them. ``unsupported`` is filled
    by encoders with the names of fields the target protocol cannot express.
    """

    model: str
    messages: list[Message]
    system: list[TextPart] = field(default_factory=list)
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    stop: list[str] = field(default_factory=list)
    seed: int | None = None
    tools: list[Tool] = field(default_factory=list)
    tool_choice: ToolChoice | None = None
    #: JSON output: ``{"type": "json_object"}`` or ``{"type": "json_schema", "name":..., "schema": {...}}``.
    response_format: dict[str, Any] | None = None
    #: Reasoning: effort name (``low``/``medium``/``high``...) and/or an explicit token budget.
    reasoning_effort: str | None = None
    thinking_budget: int | None = None
    #: Thinking explicitly disabled by the client (Anthropic ``{"type":"disabled"}``).
    thinking_disabled: bool = False
    stream: bool = False
    #: End-user id (OpenAI ``user``, Anthropic ``metadata.user_id``).
    user: str | None = None
    n: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class ChatResponse:
    id: str
    model: str
    content: list[ContentPart]
    stop_reason: StopReason | None
    usage: Usage
    stop_sequence: str | None = None


# ---------------------------------------------------------------------------------------------
# Stream events


@dataclass(slots=True)
class MessageStart:
    id: str
    model: str
    #: What is known at the start (often only input tokens; may be all zero).
    usage: Usage = field(default_factory=Usage)


@dataclass(slots=True)
class BlockStart:
    """A new content block. ``part`` is an empty TextPart, ThinkingPart or RedactedThinkingPart, or a
    ToolCallPart with ``id`` and ``name`` and empty arguments (they arrive as ``json`` deltas)."""

    index: int
    part: ContentPart


DeltaKind = Literal["text", "json", "thinking", "signature"]


@dataclass(slots=True)
class BlockDelta:
    """A piece of the open block: text, a fragment of tool-call JSON, thinking text, or a signature."""

    index: int
    kind: DeltaKind
    value: str


@dataclass(slots=True)
class BlockStop:
    index: int


@dataclass(slots=True)
class MessageEnd:
    """The message is complete. ``usage`` is cumulative and final."""

    stop_reason: StopReason | None
    usage: Usage
    stop_sequence: str | None = None


@dataclass(slots=True)
class StreamError:
    """The upstream failed after the stream began; surfaces end their stream with an error event."""

    status: int
    kind: str
    message: str


StreamEvent = MessageStart | BlockStart | BlockDelta | BlockStop | MessageEnd | StreamError
