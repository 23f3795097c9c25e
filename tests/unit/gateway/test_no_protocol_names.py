"""The gateway asks wire formats and provider adapters; it never compares protocol names.

A new surface or provider then touches its own package and a registration line, and no branch in
gateway/ can silently miss it (issue 13: 28 such comparisons, ``if dep.provider == "mock"``, a
``finishReason`` byte sniff in relay.py, token-count URL surgery in tokens.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import bastion.gateway

_GATEWAY = Path(bastion.gateway.__file__).parent
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


def test_the_rule_catches_what_it_is_for() -> None:
    samples = [
        'if dep.provider == "mock":',
        'gemini = ctx.surface.name == "gemini"',
        'if dep.provider in ("anthropic", "gemini"):',
        "b'\"finishReason\"' in data",
    ]
    assert all(any(rule.search(s) for rule in _FORBIDDEN) for s in samples)
