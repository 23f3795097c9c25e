"""Property tests: decode_request(encode_request(x)) == x for canonical requests Gemini can express.

The generated values respect the normalisations the Gemini mapping makes (see the request module
docstring), so equality is exact:

* tool calls are numbered ``call_<n>`` in order (Gemini carries no ids upstream; the decoder
  numbers calls and pairs responses by name, in call order), and results name their tool;
* no thinking parts, no ``cache_control``, no empty texts (Gemini takes none of them);
* tool-result text never starts with ``{`` (a JSON object is sent as the response object and
  comes back compact), and holds exactly one text part;
* a json_schema response format is named ``response``; thinking is a budget or disabled (an
  effort name becomes a budget); a tool choice comes only with tools; descriptions are non-empty;
* extras are Gemini fields (others are refused or dropped, see the unit tests).
"""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.protocols.canonical import (
    ChatRequest,
    ContentPart,
    DocumentPart,
    ImagePart,
    Message,
    TextPart,
    Tool,
    ToolCallPart,
    ToolChoice,
    ToolResultPart,
)
from bastion.protocols.gemini.request import decode_request, encode_request

_text = st.text(min_size=1, max_size=30)
_name = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True)
_signature = st.binary(min_size=1, max_size=24).map(lambda b: base64.b64encode(b).decode())
_json_scalar = st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.text(max_size=10)
_json = st.recursive(
    _json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=5,
)
_arguments = st.dictionaries(st.text(max_size=8), _json, max_size=4)
_b64 = st.binary(min_size=1, max_size=12).map(lambda b: base64.b64encode(b).decode())
_media = st.one_of(
    st.builds(ImagePart, media_type=st.sampled_from(["image/png", "image/jpeg"]), data=_b64),
    st.builds(ImagePart, media_type=st.just("image/webp"), url=st.just("https://example.com/a.webp")),
    st.builds(DocumentPart, media_type=st.sampled_from(["application/pdf", "text/plain"]), data=_b64),
    st.builds(DocumentPart, media_type=st.just("application/pdf"), url=st.just("gs://bucket/doc.pdf")),
)
_result_text = st.text(max_size=30).filter(lambda s: not s.startswith("{"))


@st.composite
def _conversation(draw: st.DrawFn) -> list[Message]:
    messages: list[Message] = []
    calls = 0
    for _ in range(draw(st.integers(1, 4))):
        user: list[ContentPart] = draw(
            st.lists(st.one_of(_text.map(lambda t: TextPart(text=t)), _media), min_size=1, max_size=3)
        )
        messages.append(Message(role="user", content=user))
        reply: list[ContentPart] = [TextPart(text=t) for t in draw(st.lists(_text, max_size=2))]
        made: list[ToolCallPart] = []
        for _ in range(draw(st.integers(0, 3))):
            call = ToolCallPart(
                id=f"call_{calls}",
                name=draw(st.sampled_from(["f", "g", "h"])),
                arguments=draw(_arguments),
                signature=draw(st.none() | _signature),
            )
            calls += 1
            made.append(call)
        reply.extend(made)
        if not reply:
            continue
        messages.append(Message(role="assistant", content=reply))
        if made:
            results: list[ContentPart] = [
                ToolResultPart(
                    tool_call_id=call.id,
                    content=[TextPart(text=draw(_result_text))],
                    is_error=draw(st.booleans()),
                    name=call.name,
                )
                for call in made
            ]
            messages.append(Message(role="user", content=results))
    return messages


_tool = st.builds(
    Tool,
    name=_name,
    description=st.none() | _text,
    parameters=st.fixed_dictionaries(
        {
            "type": st.just("object"),
            "properties": st.dictionaries(_name, st.just({"type": "string"}), max_size=3),
        }
    ),
)


@st.composite
def _request(draw: st.DrawFn) -> ChatRequest:
    tools = draw(st.lists(_tool, max_size=3, unique_by=lambda t: t.name))
    choice = None
    if tools:
        choice = draw(
            st.none()
            | st.builds(ToolChoice, mode=st.sampled_from(["auto", "any", "none"]))
            | st.sampled_from(tools).map(lambda t: ToolChoice(mode="tool", name=t.name))
        )
    thinking = draw(st.sampled_from(["none", "disabled", "budget"]))
    extra: dict[str, Any] = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "safetySettings": st.just(
                    [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]
                ),
                "cachedContent": st.just("cachedContents/abc"),
                "presencePenalty": st.floats(-2, 2),
                "responseModalities": st.just(["TEXT"]),
            },
        )
    )
    return ChatRequest(
        model="gemini-2.5-flash",
        messages=draw(_conversation()),
        system=[TextPart(text=t) for t in draw(st.lists(_text, max_size=2))],
        max_tokens=draw(st.none() | st.integers(1, 65536)),
        temperature=draw(st.none() | st.floats(0, 2)),
        top_p=draw(st.none() | st.floats(0, 1)),
        top_k=draw(st.none() | st.integers(1, 100)),
        stop=draw(st.lists(_text, max_size=3)),
        seed=draw(st.none() | st.integers(0, 2**31)),
        tools=tools,
        tool_choice=choice,
        response_format=draw(
            st.none()
            | st.just({"type": "json_object"})
            | st.builds(
                lambda s: {"type": "json_schema", "name": "response", "schema": s},
                st.just({"type": "object"}),
            )
        ),
        thinking_budget=draw(st.integers(1, 32768)) if thinking == "budget" else None,
        thinking_disabled=thinking == "disabled",
        stream=draw(st.booleans()),
        n=draw(st.none() | st.integers(1, 4)),
        extra=extra,
    )


@settings(max_examples=100)
@given(_request())
def test_request_round_trip(req: ChatRequest) -> None:
    """Decoding what encode_request wrote gives back the canonical request."""
    body = encode_request(req, drop_params=False)
    assert decode_request(body, req.model, stream=req.stream) == req
