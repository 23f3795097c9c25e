"""OpenAI content parts (text, image_url, file) to and from canonical parts.

Shared by the request and response modules. ``path`` arguments are the JSON path of the value in
the client's body, so error messages can say exactly which field was wrong (``param``).
"""

from __future__ import annotations

from typing import Any

from bastion.domain.errors import InvalidRequestError, UnsupportedParameterError
from bastion.protocols.canonical import (
    ContentPart,
    DocumentPart,
    ImagePart,
    RedactedThinkingPart,
    TextPart,
    ThinkingPart,
)
from bastion.protocols.data_urls import guess_document_type, parse_data_url


def decode_part(part: object, path: str) -> ContentPart:
    """One element of a ``content`` list -> a canonical part."""
    if not isinstance(part, dict):
        raise InvalidRequestError(f"'{path}' must be a content part object.", param=path)
    kind = part.get("type")
    if kind == "text":
        text = part.get("text")
        if not isinstance(text, str):
            raise InvalidRequestError(f"'{path}.text' must be a string.", param=f"{path}.text")
        cache_control = part.get("cache_control")
        return TextPart(text, cache_control if isinstance(cache_control, dict) else None)
    if kind == "image_url":
        return _decode_image(part.get("image_url"), f"{path}.image_url")
    if kind == "file":
        return _decode_file(part.get("file"), f"{path}.file")
    if kind == "refusal":
        refusal = part.get("refusal")
        if not isinstance(refusal, str):
            raise InvalidRequestError(f"'{path}.refusal' must be a string.", param=f"{path}.refusal")
        return TextPart(refusal)
    if kind == "input_audio":
        raise InvalidRequestError(
            "Audio input ('input_audio' parts) cannot be translated for this model's provider; "
            "use an OpenAI model that accepts audio, or send text.",
            param=f"{path}.type",
        )
    raise InvalidRequestError(
        f"Unknown content part type {kind!r} at '{path}'; expected 'text', 'image_url' or 'file'.",
        param=f"{path}.type",
    )


def decode_text_parts(content: object, path: str, cache_control: object = None) -> list[TextPart]:
    """A ``content`` that may hold text only (system, developer, tool messages)."""
    marker = cache_control if isinstance(cache_control, dict) else None
    if isinstance(content, str):
        return [TextPart(content, marker)]
    if isinstance(content, list):
        parts: list[TextPart] = []
        for i, raw in enumerate(content):
            part = decode_part(raw, f"{path}[{i}]")
            if not isinstance(part, TextPart):
                raise InvalidRequestError(
                    f"'{path}[{i}]' must be a text part: this message may only contain text.",
                    param=f"{path}[{i}]",
                )
            parts.append(part)
        return parts
    raise InvalidRequestError(f"'{path}' must be a string or a list of text parts.", param=path)


def _decode_image(value: object, path: str) -> ImagePart:
    # Some clients send the URL string directly instead of {"url": ...}.
    detail: object = None
    if isinstance(value, dict):
        url = value.get("url")
        detail = value.get("detail")
        path = f"{path}.url"
    else:
        url = value
    if not isinstance(url, str) or not url:
        raise InvalidRequestError(f"'{path}' must be a non-empty URL string.", param=path)
    hint = detail if isinstance(detail, str) else None
    if url.startswith("data:"):
        media_type, data = parse_data_url(url, path)
        return ImagePart(media_type=media_type, data=data, detail=hint)
    return ImagePart(url=url, detail=hint)


def _decode_file(value: object, path: str) -> DocumentPart:
    if not isinstance(value, dict):
        raise InvalidRequestError(f"'{path}' must be an object with 'file_data'.", param=path)
    filename = value.get("filename")
    name = filename if isinstance(filename, str) else None
    data = value.get("file_data")
    if isinstance(data, str) and data:
        if data.startswith("data:"):
            media_type, payload = parse_data_url(data, f"{path}.file_data")
            return DocumentPart(media_type=media_type, data=payload, filename=name)
        return DocumentPart(media_type=guess_document_type(name), data=data, filename=name)
    if "file_id" in value:
        raise InvalidRequestError(
            "File references ('file_id') only work with OpenAI itself; send the file inline as "
            "'file_data' (a base64 data URL) instead.",
            param=f"{path}.file_id",
        )
    raise InvalidRequestError(f"'{path}.file_data' must be a non-empty string.", param=f"{path}.file_data")


def default_filename(media_type: str | None) -> str:
    """OpenAI wants a ``filename`` with inline ``file_data``; invent a plausible one."""
    return "document.pdf" if media_type in (None, "application/pdf") else "document"


def encode_part(part: ContentPart) -> dict[str, Any]:
    """A canonical user-side part -> an OpenAI content part (text, image_url or file)."""
    if isinstance(part, TextPart):
        return {"type": "text", "text": part.text}
    if isinstance(part, ImagePart):
        if part.url:
            url = part.url
        elif part.data is not None:
            url = f"data:{part.media_type or 'image/png'};base64,{part.data}"
        else:
            raise InvalidRequestError("An image part has neither 'url' nor 'data'.")
        image: dict[str, Any] = {"url": url}
        if part.detail:
            image["detail"] = part.detail
        return {"type": "image_url", "image_url": image}
    if isinstance(part, DocumentPart):
        if part.data is None:
            raise UnsupportedParameterError(
                "Documents given by URL cannot be sent to OpenAI-compatible providers; include the "
                "document inline (base64) instead."
            )
        media_type = part.media_type or "application/pdf"
        return {
            "type": "file",
            "file": {
                "file_data": f"data:{media_type};base64,{part.data}",
                "filename": part.filename or default_filename(part.media_type),
            },
        }
    raise InvalidRequestError(
        f"A {type(part).__name__} cannot appear in this message when talking to an "
        "OpenAI-compatible provider."
    )


def thinking_parts(blocks: list[Any]) -> list[ContentPart]:
    """LiteLLM's ``thinking_blocks`` extension (signed thinking, as Anthropic sends it) as parts."""
    parts: list[ContentPart] = []
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "redacted_thinking" and isinstance(block.get("data"), str):
            parts.append(RedactedThinkingPart(block["data"]))
        elif isinstance(block.get("thinking"), str):
            signature = block.get("signature")
            parts.append(ThinkingPart(block["thinking"], signature if isinstance(signature, str) else None))
    return parts
