"""Responses API message content to canonical parts: text, images and files.

``input_text``, ``output_text`` and ``refusal`` become text, ``input_image`` an image and
``input_file`` a document (``file_data`` as a ``data:`` URL or plain base64 typed by ``filename``,
or ``file_url``). ``file_id`` references live in OpenAI's file store and audio cannot be translated:
both are refused naming the field.
"""

from __future__ import annotations

from typing import Any

from bastion.domain.errors import InvalidRequestError
from bastion.protocols.canonical import ContentPart, DocumentPart, ImagePart, TextPart
from bastion.protocols.data_urls import guess_document_type, parse_data_url

__all__ = ["decode_assistant_content", "decode_content", "decode_part", "decode_text_content"]


def decode_content(content: object, path: str) -> list[ContentPart]:
    if isinstance(content, str):
        return [TextPart(content)]
    if not isinstance(content, list):
        raise InvalidRequestError(f"'{path}' must be a string or a list of content parts.", param=path)
    return [decode_part(part, f"{path}[{j}]") for j, part in enumerate(content)]


def decode_text_content(content: object, path: str) -> list[TextPart]:
    parts = decode_content(content, path)
    for j, part in enumerate(parts):
        if not isinstance(part, TextPart):
            raise InvalidRequestError(
                f"'{path}[{j}]' must be text: system and developer messages hold text only.",
                param=f"{path}[{j}]",
            )
    return [part for part in parts if isinstance(part, TextPart)]


def decode_assistant_content(content: object, path: str) -> list[ContentPart]:
    parts = decode_content(content, path)
    for j, part in enumerate(parts):
        if not isinstance(part, TextPart):
            raise InvalidRequestError(
                f"'{path}[{j}]' must be 'output_text' or 'refusal' in an assistant message.",
                param=f"{path}[{j}]",
            )
    return parts


def decode_part(part: object, path: str) -> ContentPart:
    if not isinstance(part, dict):
        raise InvalidRequestError(f"'{path}' must be a content part object.", param=path)
    kind = part.get("type")
    if kind in ("input_text", "output_text", "text"):
        return TextPart(_required_str(part, "text", path))
    if kind == "refusal":
        return TextPart(_required_str(part, "refusal", path))
    if kind == "input_image":
        return _decode_image(part, path)
    if kind == "input_file":
        return _decode_file(part, path)
    if kind == "input_audio":
        raise InvalidRequestError(
            "Audio input ('input_audio') cannot be translated for this model's provider; send text.",
            param=f"{path}.type",
        )
    raise InvalidRequestError(
        f"Unknown content part type {kind!r} at '{path}'; expected 'input_text', 'input_image', "
        "'input_file' or 'output_text'.",
        param=f"{path}.type",
    )


def _decode_image(part: dict[str, Any], path: str) -> ImagePart:
    url = part.get("image_url")
    detail = part.get("detail")
    hint = detail if isinstance(detail, str) else None
    if isinstance(url, str) and url:
        if url.startswith("data:"):
            media_type, data = parse_data_url(url, f"{path}.image_url")
            return ImagePart(media_type=media_type, data=data, detail=hint)
        return ImagePart(url=url, detail=hint)
    if part.get("file_id") is not None:
        raise InvalidRequestError(
            "Images given by 'file_id' live in OpenAI's file store; send 'image_url' (a URL or a "
            "base64 data URL) instead.",
            param=f"{path}.file_id",
        )
    raise InvalidRequestError(
        f"'{path}.image_url' must be a non-empty URL string.", param=f"{path}.image_url"
    )


def _decode_file(part: dict[str, Any], path: str) -> DocumentPart:
    filename = part.get("filename")
    name = filename if isinstance(filename, str) else None
    data = part.get("file_data")
    if isinstance(data, str) and data:
        if data.startswith("data:"):
            media_type, payload = parse_data_url(data, f"{path}.file_data")
            return DocumentPart(media_type=media_type, data=payload, filename=name)
        return DocumentPart(media_type=guess_document_type(name), data=data, filename=name)
    url = part.get("file_url")
    if isinstance(url, str) and url:
        return DocumentPart(media_type=guess_document_type(name or url), url=url, filename=name)
    if part.get("file_id") is not None:
        raise InvalidRequestError(
            "Files given by 'file_id' live in OpenAI's file store; send 'file_data' (a base64 data "
            "URL) instead.",
            param=f"{path}.file_id",
        )
    raise InvalidRequestError(
        f"'{path}' needs 'file_data' (a base64 data URL) or 'file_url'.", param=f"{path}.file_data"
    )


def _required_str(obj: dict[str, Any], key: str, path: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise InvalidRequestError(f"'{path}.{key}' must be a string.", param=f"{path}.{key}")
    return value
