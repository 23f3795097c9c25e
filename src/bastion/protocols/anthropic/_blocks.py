"""Anthropic request content blocks <-> canonical content parts.

Decoding validates what it reads and names the offending field the way Anthropic's API does
(``messages.2.content.0.source: Input should be a valid dictionary``) so a client sees exactly what
is wrong, and clients that recognise Anthropic's wording react as they would to Anthropic.
Block-level extras the canonical form cannot hold are dropped: ``citations`` on text,
``cache_control`` on anything but text, a document's ``context``.
A plain-text document source becomes a :class:`DocumentPart` with ``media_type="text/plain"`` and
the text base64-encoded, so every protocol sees documents in one shape.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from bastion.domain.errors import InvalidRequestError, UnsupportedParameterError
from bastion.protocols.canonical import (
    ContentPart,
    DocumentPart,
    ImagePart,
    RedactedThinkingPart,
    TextPart,
    ThinkingPart,
    ToolCallPart,
    ToolResultPart,
)

__all__ = ["decode_block", "decode_content", "encode_part", "encode_text", "invalid"]


def invalid(path: str, message: str) -> InvalidRequestError:
    """A validation error worded as Anthropic's: ``<dotted path>: <message>``, ``param`` the path."""
    return InvalidRequestError(f"{path}: {message}", param=path)


def _invalid(message: str, param: str) -> InvalidRequestError:
    return invalid(param, message)


def _get_str(block: dict[str, Any], key: str, path: str) -> str:
    value = block.get(key)
    if not isinstance(value, str):
        raise _invalid(
            "Field required" if value is None else "Input should be a valid string", f"{path}.{key}"
        )
    return value


def decode_content(content: Any, path: str) -> list[ContentPart]:
    """A ``content`` value (a string or a list of blocks) as canonical parts."""
    if isinstance(content, str):
        return [TextPart(content)]
    if not isinstance(content, list):
        raise _invalid("Input should be a valid string or a list of content blocks", path)
    return [decode_block(block, f"{path}.{i}") for i, block in enumerate(content)]


def decode_block(block: Any, path: str) -> ContentPart:
    """One request content block as a canonical part; unknown block types are refused."""
    if not isinstance(block, dict):
        raise _invalid("Input should be a valid dictionary", path)
    kind = block.get("type")
    if kind == "text":
        return TextPart(_get_str(block, "text", path), block.get("cache_control"))
    if kind == "tool_use":
        arguments = block.get("input", {})
        if not isinstance(arguments, dict):
            raise _invalid("Input should be a valid dictionary", f"{path}.input")
        return ToolCallPart(_get_str(block, "id", path), _get_str(block, "name", path), arguments)
    if kind == "tool_result":
        return _decode_tool_result(block, path)
    if kind == "thinking":
        return ThinkingPart(_get_str(block, "thinking", path), block.get("signature") or None)
    if kind == "redacted_thinking":
        return RedactedThinkingPart(_get_str(block, "data", path))
    if kind == "image":
        return _decode_image(block, path)
    if kind == "document":
        return _decode_document(block, path)
    raise _invalid(
        f"content block type {kind!r} cannot be translated for this model's provider",
        f"{path}.type",
    )


def _decode_tool_result(block: dict[str, Any], path: str) -> ToolResultPart:
    content = block.get("content")
    parts: list[ContentPart]
    if content is None:
        parts = []
    else:
        parts = decode_content(content, f"{path}.content")
        for i, part in enumerate(parts):
            if not isinstance(part, TextPart | ImagePart | DocumentPart):
                raise _invalid(
                    "A tool result may hold only text, image and document blocks",
                    f"{path}.content.{i}.type",
                )
    return ToolResultPart(
        tool_call_id=_get_str(block, "tool_use_id", path),
        content=parts,
        is_error=block.get("is_error") is True,
    )


def _source(block: dict[str, Any], path: str) -> dict[str, Any]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise _invalid("Input should be a valid dictionary", f"{path}.source")
    return source


def _decode_image(block: dict[str, Any], path: str) -> ImagePart:
    source = _source(block, path)
    spath = f"{path}.source"
    kind = source.get("type")
    if kind == "base64":
        media_type = _get_str(source, "media_type", spath)
        return ImagePart(media_type=media_type, data=_get_str(source, "data", spath))
    if kind == "url":
        return ImagePart(url=_get_str(source, "url", spath))
    raise _invalid(f"Source type {kind!r} is not supported here (use base64 or url)", f"{spath}.type")


def _decode_document(block: dict[str, Any], path: str) -> DocumentPart:
    source = _source(block, path)
    spath = f"{path}.source"
    title = block.get("title")
    filename = title if isinstance(title, str) else None
    kind = source.get("type")
    if kind == "base64":
        media_type = _get_str(source, "media_type", spath)
        return DocumentPart(media_type=media_type, data=_get_str(source, "data", spath), filename=filename)
    if kind == "text":
        text = _get_str(source, "data", spath)
        data = base64.b64encode(text.encode()).decode("ascii")
        return DocumentPart(media_type="text/plain", data=data, filename=filename)
    if kind == "url":
        return DocumentPart(url=_get_str(source, "url", spath), filename=filename)
    raise _invalid(f"Source type {kind!r} is not supported here (use base64, text or url)", f"{spath}.type")


# ---------------------------------------------------------------------------------------------
# Encoding

#: Base64 prefixes of the image formats Anthropic takes, for images that come without a media type.
_IMAGE_MAGIC = (
    ("iVBORw0KGgo", "image/png"),
    ("/9j/", "image/jpeg"),
    ("R0lGOD", "image/gif"),
    ("UklGR", "image/webp"),
)


def encode_text(part: TextPart) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": part.text}
    if part.cache_control is not None:
        block["cache_control"] = part.cache_control
    return block


def encode_part(part: ContentPart) -> dict[str, Any] | None:
    """One canonical part as an Anthropic request block; ``None`` for a part Anthropic must not get.

    Unsigned thinking (from a provider without Anthropic signatures) is left out: Anthropic
    rejects thinking blocks it cannot verify.
    """
    if isinstance(part, TextPart):
        return encode_text(part)
    if isinstance(part, ToolCallPart):
        return {"type": "tool_use", "id": part.id, "name": part.name, "input": part.arguments}
    if isinstance(part, ToolResultPart):
        return _encode_tool_result(part)
    if isinstance(part, ThinkingPart):
        if not part.signature:
            return None
        return {"type": "thinking", "thinking": part.text, "signature": part.signature}
    if isinstance(part, RedactedThinkingPart):
        return {"type": "redacted_thinking", "data": part.data}
    if isinstance(part, ImagePart):
        return {"type": "image", "source": _image_source(part)}
    return _encode_document(part)


def _encode_tool_result(part: ToolResultPart) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": part.tool_call_id}
    content = part.content
    if len(content) == 1 and isinstance(content[0], TextPart) and content[0].cache_control is None:
        # The string form is accepted by every Anthropic-compatible server, blocks not always.
        block["content"] = content[0].text
    elif content:
        blocks = [encode_part(p) for p in content]
        block["content"] = [b for b in blocks if b is not None]
    if part.is_error:
        block["is_error"] = True
    return block


def _split_data_url(url: str) -> tuple[str, str] | None:
    """``data:<media>;base64,<data>`` as ``(media, data)``; ``None`` if it is not such a URL."""
    header, sep, data = url.partition(",")
    if not sep or not header.startswith("data:") or not header.endswith(";base64"):
        return None
    return header[5:-7], data


def _sniff_image(data: str) -> str:
    for magic, media_type in _IMAGE_MAGIC:
        if data.startswith(magic):
            return media_type
    return "image/png"


def _image_source(part: ImagePart) -> dict[str, Any]:
    if part.data is not None:
        media_type = part.media_type or _sniff_image(part.data)
        return {"type": "base64", "media_type": media_type, "data": part.data}
    if part.url:
        inline = _split_data_url(part.url) if part.url.startswith("data:") else None
        if inline is not None:
            media_type = inline[0] or _sniff_image(inline[1])
            return {"type": "base64", "media_type": media_type, "data": inline[1]}
        return {"type": "url", "url": part.url}
    raise _invalid("An image has neither data nor url", "messages")


def _encode_document(part: DocumentPart) -> dict[str, Any]:
    source: dict[str, Any]
    media_type, data = part.media_type, part.data
    if data is None and part.url and part.url.startswith("data:"):
        inline = _split_data_url(part.url)
        if inline is not None:
            media_type, data = inline[0] or None, inline[1]
    if data is not None:
        media_type = media_type or "application/pdf"
        if media_type == "text/plain":
            source = {"type": "text", "media_type": "text/plain", "data": _b64_text(data)}
        elif media_type == "application/pdf":
            source = {"type": "base64", "media_type": media_type, "data": data}
        else:
            raise UnsupportedParameterError(
                f"Documents of type {media_type!r} are not supported by Anthropic (use PDF or plain text)",
                param="messages",
            )
    elif part.url:
        source = {"type": "url", "url": part.url}
    else:
        raise _invalid("A document has neither data nor url", "messages")
    block: dict[str, Any] = {"type": "document", "source": source}
    if part.filename:
        block["title"] = part.filename
    return block


def _b64_text(data: str) -> str:
    try:
        return base64.b64decode(data, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise _invalid("A text/plain document is not valid base64-encoded UTF-8", "messages") from exc
