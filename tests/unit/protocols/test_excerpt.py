"""Provider error text is shortened at whitespace, so a quoted key is never cut in half."""

from __future__ import annotations

from bastion.protocols import anthropic, gemini, openai
from bastion.protocols.excerpt import excerpt

KEY = "tok-123abc-quoted-by-the-provider"


def test_a_value_straddling_the_limit_is_left_out_whole() -> None:
    for limit in range(20, 80):
        text = "error: bad credentials " + KEY + " and more words after it"
        cut = excerpt(text, limit)
        assert len(cut) <= limit
        assert KEY in cut or not any(KEY[:k] in cut for k in range(3, len(KEY)))


def test_text_without_whitespace_is_cut_at_the_limit() -> None:
    assert excerpt("x" * 50, 10) == "x" * 7 + "..."
    assert excerpt("short", 10) == "short"


def test_every_protocols_upstream_error_parser_cuts_at_whitespace() -> None:
    """A non-JSON error body quoting the key right where each parser's limit falls."""
    for module, limit in ((openai.errors, 300), (anthropic.errors, 2000), (gemini.errors, 1000)):
        straddled = 0
        for start in range(limit - len(KEY) - 5, limit + 2):
            body = ("w" * (start - 1) + " " + KEY + " tail" * 100).encode()
            message, _ = module.parse_upstream_error(401, body)
            assert len(message) <= limit, module
            assert KEY in message or not any(KEY[:k] in message for k in range(3, len(KEY))), (module, start)
            straddled += KEY not in message
        assert straddled, module  # the key did fall across the limit
