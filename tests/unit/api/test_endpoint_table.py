"""The route table: lookup, 405s, families, and the collisions it refuses."""

from __future__ import annotations

from typing import Any

import pytest

from bastion.api.asgi import Request, Send
from bastion.api.endpoints import CLIENT, MASTER, PUBLIC, Endpoint, EndpointTable, Match, NotAllowed
from bastion.api.error_formats import ANTHROPIC_ERRORS, GEMINI_ERRORS, OPENAI_ERRORS, TOKENSTREAM_ERRORS
from bastion.domain.errors import ConfigError


async def _handler(request: Request, send: Send) -> None:
    return None


async def _guard(request: Request) -> Any:
    return "caller"


def _endpoint(method: str, path: str, **options: Any) -> Endpoint:
    options.setdefault("audience", PUBLIC)
    options.setdefault("errors", OPENAI_ERRORS)
    return Endpoint(method, path, _handler, **options)


def _table(*endpoints: Endpoint) -> EndpointTable:
    return EndpointTable(endpoints, {MASTER: _guard, CLIENT: _guard})


def test_a_fixed_path_is_one_dict_lookup_with_its_guard() -> None:
    """The fast dispatch is generated from the table: path -> method -> match, guard included."""
    table = _table(_endpoint("POST", "/key/generate", audience=MASTER), _endpoint("GET", "/health"))
    found = table.fixed["/key/generate"]["POST"]
    assert found.endpoint.path == "/key/generate" and found.guard is _guard
    assert table.fixed["/health"]["GET"].guard is None  # public: nobody is checked


def test_an_inline_authenticated_endpoint_gets_no_guard() -> None:
    """The generation handlers authenticate inside the pipeline; the table must not do it twice."""
    table = _table(_endpoint("POST", "/v1/chat/completions", audience=CLIENT, inline_auth=True))
    assert table.fixed["/v1/chat/completions"]["POST"].guard is None


def test_templates_match_one_segment_or_a_whole_path() -> None:
    """{key} is one segment; {model:path} takes slashes (a model group like anthropic/claude)."""
    table = _table(
        _endpoint("POST", "/key/{key}/regenerate"),
        _endpoint("POST", "/v1beta/models/{model:path}:generateContent", errors=GEMINI_ERRORS),
    )
    found = table.find("POST", "/key/sk-abc/regenerate")
    assert isinstance(found, Match) and found.params == {"key": "sk-abc"}
    assert table.find("POST", "/key/a/b/regenerate") is None
    found = table.find("POST", "/v1beta/models/anthropic/claude%2Dx:generateContent")
    assert isinstance(found, Match) and found.params == {"model": "anthropic/claude-x"}
    assert table.find("POST", "/v1beta/models/x:unknownAction") is None


def test_a_known_path_with_another_method_names_the_allowed_ones() -> None:
    """A 405 lists every method the path takes (HEAD with GET), in the path's error format."""
    table = _table(
        _endpoint("POST", "/api/openai", errors=TOKENSTREAM_ERRORS),
        _endpoint("OPTIONS", "/api/openai", errors=TOKENSTREAM_ERRORS),
        _endpoint("GET", "/v1/models/{model:path}"),
    )
    refused = table.find("GET", "/api/openai")
    assert isinstance(refused, NotAllowed)
    assert refused.allowed == ("OPTIONS", "POST") and refused.errors is TOKENSTREAM_ERRORS
    refused = table.find("DELETE", "/v1/models/gpt")
    assert isinstance(refused, NotAllowed) and refused.allowed == ("GET", "HEAD")


def test_head_is_served_by_the_get_endpoint() -> None:
    table = _table(_endpoint("GET", "/"), _endpoint("GET", "/files/{name:path}"))
    assert table.fixed["/"]["HEAD"].endpoint.method == "GET"
    found = table.find("HEAD", "/files/a/b.js")
    assert isinstance(found, Match) and found.params == {"name": "a/b.js"}


def test_an_unknown_path_takes_the_format_of_its_family() -> None:
    """The longest prefix with routes decides; a prefix shared by several formats decides nothing."""
    table = _table(
        _endpoint("POST", "/v1/messages", errors=ANTHROPIC_ERRORS),
        _endpoint("POST", "/v1/chat/completions"),
        _endpoint("POST", "/v1beta/models/{model:path}:generateContent", errors=GEMINI_ERRORS),
        _endpoint("POST", "/api/openai", errors=TOKENSTREAM_ERRORS),
    )
    assert table.family("/v1beta/other") is GEMINI_ERRORS
    assert table.family("/v1beta/models/x:nope") is GEMINI_ERRORS
    assert table.family("/api/other") is TOKENSTREAM_ERRORS
    assert table.family("/v1/other") is None  # OpenAI and Anthropic share /v1: the caller's headers decide
    assert table.family("/elsewhere") is None


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("POST", "/v1/chat/completions"), ("POST", "/v1/chat/completions")),
        (("POST", "/key/{key}/regenerate"), ("POST", "/key/{name}/regenerate")),
        (("GET", "/v1/models/{model:path}"), ("GET", "/v1/{rest:path}")),
    ],
)
def test_two_routes_for_one_method_and_path_are_refused(
    first: tuple[str, str], second: tuple[str, str]
) -> None:
    with pytest.raises(ConfigError, match="two routes answer"):
        _table(_endpoint(*first, summary="first"), _endpoint(*second, summary="second"))


def test_a_configured_path_may_not_shadow_a_template_either() -> None:
    """A fixed path inside a built-in template is intended (/v2/users/me before /v2/users/{id});
    one that came from a setting is refused, naming the setting."""
    _table(_endpoint("GET", "/v2/users/{user_id}"), _endpoint("GET", "/v2/users/me"))
    with pytest.raises(ConfigError, match=r"bastion_settings\.browser\.static_files: '/v1/models/x'"):
        _table(
            _endpoint("GET", "/v1/models/{model:path}", summary="one model"),
            _endpoint("GET", "/v1/models/x", source="bastion_settings.browser.static_files"),
        )


def test_the_same_path_with_other_methods_is_no_collision() -> None:
    _table(_endpoint("GET", "/v2/users/me"), _endpoint("PATCH", "/v2/users/me"))


def test_an_audience_without_a_guard_is_refused() -> None:
    """A route whose callers nobody checks would be open by mistake: the table is not built."""
    with pytest.raises(ConfigError, match="no guard for the 'master' audience"):
        EndpointTable([_endpoint("POST", "/key/generate", audience=MASTER)], {})


def test_a_template_ending_in_a_slash_is_refused() -> None:
    """Paths are matched without their trailing slash; a template with one could never match."""
    with pytest.raises(ConfigError, match="must not end with '/'"):
        _table(_endpoint("GET", "/ui/"))
