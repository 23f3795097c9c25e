"""The gateway asks wire formats and provider adapters; it never compares protocol names.

A new surface or provider then touches its own package and a registration line, and no branch in
gateway/ (nor in the app, ``api/server.py``, or the listings' ``api/catalog.py``) can silently
miss it (issue 13: 28 such comparisons, ``if dep.provider == "mock"``, a ``finishReason`` byte
sniff in relay.py, token-count URL surgery in tokens.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import bastion.api
import bastion.gateway

_GATEWAY = Path(bastion.gateway.__file__).parent
_API = Path(bastion.api.__file__).parent
#: The app and the listings' data: which surface answers is declared by the protocol packages
#: (their ``SurfaceSpec``: operations, embeddings codecs, listings, ``claims``), never chosen here.
_SURFACE_FREE = ("server.py", "catalog.py", "listings.py")
_NAMES = r"\"(?:openai|anthropic|gemini|mock|tokenstream)\""
_FORBIDDEN = [
    re.compile(r"\b(?:provider|protocol|name|dialect)\s*(?:==|!=)\s*" + _NAMES),
    re.compile(_NAMES + r"\s*(?:==|!=)"),
    re.compile(r"\bin\s*\(\s*" + _NAMES),
    re.compile(r"finishReason|:generateContent|count_tokens\""),
]


def test_no_module_of_the_gateway_compares_protocol_names() -> None:
    found = []
    for path in sorted(_GATEWAY.glob("*.py")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if any(rule.search(line) for rule in _FORBIDDEN):
                found.append(f"{path.name}:{number}: {line.strip()}")
    assert not found, "protocol knowledge belongs in protocols/ or providers/:\n" + "\n".join(found)


_API_FORBIDDEN = [
    *_FORBIDDEN[:3],
    re.compile(r"\b(?:OPENAI|ANTHROPIC|GEMINI|TOKENSTREAM_\w+)\b"),
    re.compile(r"bastion\.protocols\.(?:openai|anthropic|gemini|tokenstream)\b"),
]


def test_the_app_and_the_catalog_name_no_protocol() -> None:
    found = []
    for name in _SURFACE_FREE:
        for number, line in enumerate((_API / name).read_text().splitlines(), 1):
            if any(rule.search(line) for rule in _API_FORBIDDEN):
                found.append(f"{name}:{number}: {line.strip()}")
    assert not found, "a surface declares its operations in its protocol package:\n" + "\n".join(found)


def test_the_api_rule_catches_what_it_is_for() -> None:
    samples = [
        "if surface is GEMINI:",
        "from bastion.protocols.gemini import embeddings",
        'if op.kind == "gemini_embeddings" or name == "anthropic":',
    ]
    assert all(any(rule.search(s) for rule in _API_FORBIDDEN) for s in samples)
    assert not any(rule.search("errors=OPENAI_ERRORS,") for rule in _API_FORBIDDEN)


def test_the_rule_catches_what_it_is_for() -> None:
    samples = [
        'if dep.provider == "mock":',
        'gemini = ctx.surface.name == "gemini"',
        'if dep.provider in ("anthropic", "gemini"):',
        "b'\"finishReason\"' in data",
    ]
    assert all(any(rule.search(s) for rule in _FORBIDDEN) for s in samples)
