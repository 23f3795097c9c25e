"""CORS for the token stream: an allowlist of exact origins; never ``*`` with credentials."""

from __future__ import annotations

from bastion.api.browser.cors import CorsPolicy
from bastion.api.browser.static import StaticFiles
from bastion.settings import BrowserSettings

APP = "https://app.example.com"
ASK = {
    "access-control-request-method": "POST",
    "access-control-request-headers": "Authorization, Content-Type",
}


def policy(**settings: object) -> CorsPolicy:
    return CorsPolicy(BrowserSettings(cors_origins=(APP,), **settings))  # type: ignore[arg-type]


def test_who_may_call() -> None:
    cors = policy()
    assert cors.allows({})  # no Origin: a backend, not a page
    assert cors.allows({"origin": APP})
    assert cors.allows({"origin": "HTTPS://APP.EXAMPLE.COM"})
    assert not cors.allows({"origin": "https://evil.example"})
    assert not cors.allows({"origin": "http://app.example.com"})  # another scheme is another origin
    assert cors.allows({"origin": "http://gw.local:4000", "host": "gw.local:4000"})  # same origin
    assert not cors.allows({"origin": "null"})


def test_response_headers_echo_the_origin() -> None:
    headers = dict(policy().response_headers({"origin": APP}))
    assert headers[b"access-control-allow-origin"] == APP.encode()
    assert headers[b"vary"] == b"Origin"
    assert b"access-control-allow-credentials" not in headers
    assert policy().response_headers({}) == []


def test_credentials_never_with_star() -> None:
    star = CorsPolicy(BrowserSettings(cors_origins=("*",)))
    assert (
        dict(star.response_headers({"origin": "https://x.example"}))[b"access-control-allow-origin"] == b"*"
    )
    with_credentials = dict(policy(cors_allow_credentials=True).response_headers({"origin": APP}))
    assert with_credentials[b"access-control-allow-origin"] == APP.encode()
    assert with_credentials[b"access-control-allow-credentials"] == b"true"


def test_preflight() -> None:
    cors = policy(cors_max_age_seconds=60)
    answer = dict(cors.preflight({"origin": APP, **ASK}) or [])
    assert answer[b"access-control-allow-headers"] == b"authorization, content-type"
    assert answer[b"access-control-allow-methods"] == b"POST, OPTIONS"
    assert answer[b"access-control-max-age"] == b"60"
    assert cors.preflight({"origin": "https://evil.example", **ASK}) is None
    assert cors.preflight({"origin": APP, "access-control-request-method": "DELETE"}) is None
    assert cors.preflight({"origin": APP, **ASK, "access-control-request-headers": "cookie"}) is None
    assert cors.preflight(ASK) is None  # a preflight always names its origin


def test_static_files_only_what_was_there(tmp_path: object) -> None:
    from pathlib import Path

    root = Path(str(tmp_path))
    (root / "index.html").write_text("<p>hi</p>")
    (root / "node_modules").mkdir()
    (root / "node_modules" / "x.js").write_text("no")
    (root / "notes.bin").write_bytes(b"\0")
    files = StaticFiles({"/demo": root})
    assert files.find("/demo") == (308, b"", b"/demo/")
    assert files.find("/demo/") == (200, b"<p>hi</p>", b"text/html; charset=utf-8")
    assert files.find("/demo/node_modules/x.js")[0] == 404  # type: ignore[index]
    assert files.find("/demo/notes.bin")[0] == 404  # type: ignore[index]
    assert files.find("/demo/../etc/passwd")[0] == 404  # type: ignore[index]
    assert files.find("/other") is None
