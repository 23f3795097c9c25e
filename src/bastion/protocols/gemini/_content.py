"""Gemini ``Part`` objects to and from canonical content parts.

Shared by requests (history sent by a client) and responses (a model's answer). Gemini function
calls carry no id unless the model or client set one, and function responses are matched to calls
by name, so :class:`CallIds` gives calls their canonical ids and pairs responses with them.
"""

from __future__ import annotations

import random
from typing import Any

import orjson

from bastion.domain.errors import InvalidRequestError
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
from bastion.protocols.gemini._casing import expect_dict, pick
from bastion.protocols.gemini._media import mime_from_base64, mime_from_url, split_data_url

__all__ = ["CallIds", "decode_parts", "encode_part", "random_call_id"]


def random_call_id() -> str:
    """A fresh tool-call id; unique enough across a conversation, not a secret."""
    return f"call_{random.getrandbits(96):024x}"


class CallIds:
    """Ids for function calls and the responses that answer them.

    In a request, a call without an id gets ``call_<n>`` (deterministic, so a retried request
    decodes the same way); in a response it gets a random id, unique across turns. A response
    without an id takes the oldest unanswered call of the same name from the latest model turn
    (Gemini answers parallel calls in call order), else ``call_<name>``.
    """

    __slots__ = ("_count", "_deterministic", "_pending")

    def __init__(self, *, deterministic: bool) -> None:
        self._deterministic = deterministic
        self._count = 0
        self._pending: dict[str, list[str]] = {}

    def new_model_turn(self) -> None:
        """Calls of earlier turns are no longer candidates for matching by name."""
        self._pending.clear()

    def for_call(self, name: str, given: Any) -> str:
        if isinstance(given, str) and given:
            call_id = given
        elif self._deterministic:
            call_id = f"call_{self._count}"
        else:
            call_id = random_call_id()
        self._count += 1
        self._pending.setdefault(name, []).append(call_id)
        return call_id

    def for_result(self, name: str, given: Any) -> str:
        pending = self._pending.get(name)
        if isinstance(given, str) and given:
            if pending and given in pending:
                pending.remove(given)
            return given
        if pending:
            return pending.pop(0)
        return f"call_{name}"


def decode_parts(parts: list[Any], ids: CallIds, *, where: str | None) -> list[ContentPart]:
    """Decode one ``Content``'s parts.

    ``where`` (e.g. ``contents[2].parts``) makes malformed or unknown parts a 400 naming it; with
    ``None`` (an upstream's answer) they are skipped so one odd part cannot lose a whole reply.
    """
    out: list[ContentPart] = []
    for j, raw in enumerate(parts):
        param = f"{where}[{j}]" if where is not None else "part"
        if not isinstance(raw, dict):
            if where is None:
                continue
            raise InvalidRequestError(f"'{param}' must be an object.", param=param)
        try:
            part = _decode_part(raw, ids, param)
        except InvalidRequestError:
            if where is None:
                continue
            raise
        if part is None:
            if where is None:
                continue
            raise InvalidRequestError(
                f"'{param}' has no supported content: expected one of text, inlineData, fileData, "
                "functionCall, functionResponse, executableCode, codeExecutionResult.",
                param=param,
            )
        if not isinstance(part, _Skip):
            out.append(part)
    return out


class _Skip:
    """A valid part with nothing to keep (an empty text, a bare signature on a text part)."""


_SKIP = _Skip()


def _decode_part(raw: dict[str, Any], ids: CallIds, param: str) -> ContentPart | _Skip | None:
    text = raw.get("text")
    signature = pick(raw, "thoughtSignature", "thought_signature")
    if not isinstance(signature, str):
        signature = None
    if isinstance(text, str):
        if raw.get("thought") is True:
            return ThinkingPart(text=text, signature=signature)
        # Gemini puts signatures on some plain text parts; only call signatures are required
        # back, and the canonical text part has no slot for one.
        return TextPart(text=text) if text else _SKIP
    call = pick(raw, "functionCall", "function_call")
    if call is not None:
        call = expect_dict(call, f"{param}.functionCall")
        name = call.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidRequestError(f"'{param}.functionCall.name' must be a non-empty string.", param=param)
        args = call.get("args")
        if args is None:
            args = {}
        args = expect_dict(args, f"{param}.functionCall.args")
        return ToolCallPart(
            id=ids.for_call(name, call.get("id")), name=name, arguments=args, signature=signature
        )
    result = pick(raw, "functionResponse", "function_response")
    if result is not None:
        return _decode_function_response(expect_dict(result, f"{param}.functionResponse"), ids, param)
    inline = pick(raw, "inlineData", "inline_data")
    if inline is not None:
        return _media_part(expect_dict(inline, f"{param}.inlineData"), inline=True)
    file = pick(raw, "fileData", "file_data")
    if file is not None:
        return _media_part(expect_dict(file, f"{param}.fileData"), inline=False)
    code = pick(raw, "executableCode", "executable_code")
    if isinstance(code, dict):
        # No canonical server-side code execution: keep what ran as readable text.
        language = str(code.get("language") or "").lower().replace("language_unspecified", "")
        return TextPart(text=f"```{language}\n{code.get('code') or ''}\n```")
    outcome = pick(raw, "codeExecutionResult", "code_execution_result")
    if isinstance(outcome, dict):
        output = outcome.get("output")
        return TextPart(text=output) if isinstance(output, str) and output else _SKIP
    if signature is not None or raw.get("thought") is True:
        return _SKIP
    return None


def _decode_function_response(result: dict[str, Any], ids: CallIds, param: str) -> ToolResultPart:
    name = result.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidRequestError(f"'{param}.functionResponse.name' must be a non-empty string.", param=param)
    response = result.get("response")
    is_error = False
    content: list[ContentPart] = []
    if isinstance(response, dict):
        # {"output": ...} / {"error": ...} is the shape Google documents; unwrap it so a string
        # result reads the same on every provider.
        if len(response) == 1 and isinstance(response.get("output"), str):
            content.append(TextPart(text=response["output"]))
        elif len(response) == 1 and isinstance(response.get("error"), str):
            is_error = True
            content.append(TextPart(text=response["error"]))
        else:
            content.append(TextPart(text=orjson.dumps(response).decode()))
    elif isinstance(response, str):
        content.append(TextPart(text=response))
    elif response is not None:
        content.append(TextPart(text=orjson.dumps(response).decode()))
    extra_parts = result.get("parts")
    if isinstance(extra_parts, list):
        for sub in extra_parts:
            media = _nested_media(sub)
            if media is not None:
                content.append(media)
    return ToolResultPart(
        tool_call_id=ids.for_result(name, result.get("id")), content=content, is_error=is_error, name=name
    )


def _nested_media(sub: Any) -> ContentPart | None:
    if not isinstance(sub, dict):
        return None
    inline = pick(sub, "inlineData", "inline_data")
    if isinstance(inline, dict):
        return _media_part(inline, inline=True)
    file = pick(sub, "fileData", "file_data")
    if isinstance(file, dict):
        return _media_part(file, inline=False)
    return None


def _media_part(blob: dict[str, Any], *, inline: bool) -> ImagePart | DocumentPart:
    mime = pick(blob, "mimeType", "mime_type")
    mime = mime if isinstance(mime, str) and mime else None
    if inline:
        data = blob.get("data")
        data = data if isinstance(data, str) else None
        if mime is not None and mime.startswith("image/"):
            return ImagePart(media_type=mime, data=data)
        return DocumentPart(media_type=mime, data=data, filename=pick(blob, "displayName", "display_name"))
    uri = pick(blob, "fileUri", "file_uri")
    uri = uri if isinstance(uri, str) else None
    if mime is not None and mime.startswith("image/"):
        return ImagePart(media_type=mime, url=uri)
    return DocumentPart(media_type=mime, url=uri, filename=pick(blob, "displayName", "display_name"))


# ---------------------------------------------------------------------------------------------
# Encoding


def encode_part(
    part: ContentPart, out: list[dict[str, Any]], *, response: bool, name: str | None = None
) -> None:
    """Append the Gemini part(s) for ``part`` to ``out``.

    ``response`` selects the answer shape (thought parts and call ids are sent) over the request
    shape (Gemini takes no thought text back and rejects ``id`` on calls and responses).
    ``name`` is the function name of a :class:`ToolResultPart`, resolved by the caller.
    """
    if isinstance(part, TextPart):
        if part.text:  # Gemini rejects empty text parts
            out.append({"text": part.text})
    elif isinstance(part, ToolCallPart):
        call: dict[str, Any] = {"name": part.name, "args": part.arguments}
        if response:
            call["id"] = part.id
        item: dict[str, Any] = {"functionCall": call}
        if part.signature is not None:
            item["thoughtSignature"] = part.signature
        out.append(item)
    elif isinstance(part, ThinkingPart):
        if response:
            thought: dict[str, Any] = {"text": part.text, "thought": True}
            if part.signature is not None:
                thought["thoughtSignature"] = part.signature
            out.append(thought)
    elif isinstance(part, ImagePart | DocumentPart):
        media = _encode_media(part)
        if media is not None:
            out.append(media)
    elif isinstance(part, ToolResultPart):
        _encode_tool_result(part, out, name or part.name or "")
    else:
        assert isinstance(part, RedactedThinkingPart)  # opaque to Gemini: nothing to send


def _encode_tool_result(part: ToolResultPart, out: list[dict[str, Any]], name: str) -> None:
    texts = [p.text for p in part.content if isinstance(p, TextPart)]
    text = "\n".join(texts)
    body: Any = None
    if part.is_error:
        body = {"error": text}
    elif len(texts) == 1 and text.startswith("{"):
        try:
            body = orjson.loads(text)
        except orjson.JSONDecodeError:
            body = None
        if not isinstance(body, dict):
            body = None
    if body is None:
        body = {"output": text}
    out.append({"functionResponse": {"name": name, "response": body}})
    # Multimodal function responses exist only on newer models; sibling parts work on all.
    for sub in part.content:
        if isinstance(sub, ImagePart | DocumentPart):
            media = _encode_media(sub)
            if media is not None:
                out.append(media)


def _encode_media(part: ImagePart | DocumentPart) -> dict[str, Any] | None:
    default = "image/jpeg" if isinstance(part, ImagePart) else "application/pdf"
    if part.data is not None:
        mime = part.media_type or mime_from_base64(part.data, default)
        return {"inlineData": {"mimeType": mime, "data": part.data}}
    if part.url is None:
        return None
    inline = split_data_url(part.url)
    if inline is not None:
        mime_in_url, data = inline
        mime = part.media_type or mime_in_url or mime_from_base64(data, default)
        return {"inlineData": {"mimeType": mime, "data": data}}
    mime = part.media_type or mime_from_url(part.url, default)
    return {"fileData": {"mimeType": mime, "fileUri": part.url}}
