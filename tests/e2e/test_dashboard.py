"""The admin dashboard over plain HTTP on a real gateway: who may log in, the session cookie, CSRF
on every form, the key actions doing what the management API does, and no page showing a secret."""

from __future__ import annotations

import asyncio
import csv
import html
import io
import re
import secrets
import urllib.parse
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from openai import AuthenticationError, OpenAI

from bastion.auth.keys import hash_key
from bastion.billing.workers import BillingWorkers
from bastion.store import SpendLogRecord
from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, STATIC_KEY, UPSTREAM_KEY, standard_models
from support.accounts import SUPERUSER, SUPERUSER_PASSWORD, V2, accounts_config
from support.backends import PG, REDIS, drop_schema, require
from support.dashboard import Browser, Page
from support.fake_billing import FakeBilling

PAGES = [
    "/ui",
    "/ui?window=hour",
    "/ui?window=month",
    "/ui/keys",
    "/ui/requests",
    "/ui/spend",
    "/ui/spend?by=key&range=all",
    "/ui/spend?by=team",
    "/ui/spend?by=user",
    "/ui/teams",
    "/ui/users",
    "/ui/plans",
    "/ui/models",
    "/ui/billing",
]


@pytest.fixture
def dash_gateway(start_gateway: Callable[..., RunningGateway], upstream: MockUpstream) -> RunningGateway:
    return start_gateway({"model_list": standard_models(upstream.url), "router_settings": {"num_retries": 0}})


def _logged_in(gateway: RunningGateway) -> Browser:
    browser = Browser(gateway.url)
    answer = browser.log_in(master_key=MASTER_KEY)
    assert answer.status == 303 and answer.headers["location"] == "/ui", answer.text
    return browser


def _new_key(browser: Browser, **fields: str) -> tuple[str, Page]:
    keys = browser.get("/ui/keys")
    page = browser.post("/ui/keys/create", {"csrf_token": keys.csrf, **fields})
    assert page.status == 200, page.text
    found = re.search(r'id="new-key-value">(sk-[^<]+)<', page.text)
    assert found is not None, page.text
    return found.group(1), page


def test_every_page_redirects_to_the_login_without_a_session(dash_gateway: RunningGateway) -> None:
    """No cookie, or a forged one: GETs go to the login page, POSTs are refused, nothing is done."""
    browser = Browser(dash_gateway.url)
    for path in ["/ui", "/ui/keys", "/ui/spend", "/ui/requests", "/ui/models"]:
        answer = browser.get(path)
        assert answer.status == 303, path
        assert answer.headers["location"].startswith("/ui/login?next=/ui"), answer.headers
    refused = browser.post("/ui/keys/create", {"key_alias": "sneaky"})
    assert refused.status == 401
    forged = Browser(dash_gateway.url, headers={"cookie": "bastion_session=eyJrIjoibWFzdGVyIn0.AAAA"})
    assert forged.get("/ui/keys").status == 303
    assert dash_gateway.call(dash_gateway.app.database.keys.list_keys()).total_count == 0  # type: ignore[union-attr]


def test_master_key_login_sets_a_strict_http_only_session(dash_gateway: RunningGateway) -> None:
    """A wrong master key is refused; the right one: an HttpOnly, SameSite=Strict cookie (Secure on https)."""
    browser = Browser(dash_gateway.url)
    wrong = browser.log_in(master_key="sk-not-the-master")
    assert wrong.status == 401 and "not the master key" in wrong.text
    right = browser.log_in(master_key=MASTER_KEY)
    assert right.status == 303
    session = next(c for c in right.set_cookies if c.startswith("bastion_session="))
    assert "HttpOnly" in session and "SameSite=Strict" in session and "Path=/ui" in session
    assert "Secure" not in session
    assert MASTER_KEY not in session
    overview = browser.get("/ui")
    assert overview.status == 200 and "Overview" in overview.text
    assert "default-src 'none'" in overview.headers["content-security-policy"]
    behind_tls = Browser(dash_gateway.url, headers={"x-forwarded-proto": "https"})
    login_form = behind_tls.get("/ui/login")
    assert any(c.startswith("bastion_login=") and "Secure" in c for c in login_form.set_cookies)
    out = browser.post("/ui/logout", {"csrf_token": overview.csrf})
    assert out.status == 303
    assert browser.get("/ui").status == 303


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_a_logged_out_session_is_refused_by_every_process(
    backend: str, start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """Two gateway processes on one database: a session cookie works on both; after logging out on
    one, a copy of the cookie is refused by both (the logout is recorded server-side)."""
    config: dict[str, Any] = {"model_list": standard_models(upstream.url)}
    schema = None
    if backend == "postgresql":
        require(5432, "PostgreSQL")
        schema = "dash_" + secrets.token_hex(6)
        config["general_settings"] = {"database_url": f"{PG}?schema={schema}"}
    gateways: list[RunningGateway] = []
    try:
        # The same config twice: the same database and the same signing secret.
        gateways += [start_gateway(config), start_gateway(config)]
        first, second = gateways
        browser = _logged_in(first)
        cookie = next(c.value for c in browser.jar if c.name == "bastion_session")
        copy = Browser(second.url, headers={"cookie": f"bastion_session={cookie}"})
        assert copy.get("/ui/keys").status == 200
        page = browser.get("/ui")
        assert browser.post("/ui/logout", {"csrf_token": page.csrf}).status == 303
        for gateway in (first, second):
            replayed = Browser(gateway.url, headers={"cookie": f"bastion_session={cookie}"})
            refused = replayed.get("/ui/keys")
            assert refused.status == 303 and refused.headers["location"].startswith("/ui/login")
            assert replayed.post("/ui/keys/create", {"key_alias": "after-logout"}).status == 401
        again = _logged_in(second)  # logging in again makes a new session, which works
        assert again.get("/ui/keys").status == 200
    finally:
        if schema is not None:
            for gateway in gateways:
                gateway.stop()
            asyncio.run(drop_schema(schema))


def test_every_form_needs_its_csrf_token(dash_gateway: RunningGateway) -> None:
    """Login, create, block and logout without the right token are refused (403) and change nothing."""
    stranger = Browser(dash_gateway.url)
    assert stranger.post("/ui/login", {"master_key": MASTER_KEY}).status == 403
    browser = _logged_in(dash_gateway)
    database = dash_gateway.app.database  # type: ignore[union-attr]
    assert browser.post("/ui/keys/create", {"key_alias": "no-token"}).status == 403
    assert browser.post("/ui/keys/create", {"key_alias": "bad-token", "csrf_token": "0" * 64}).status == 403
    assert dash_gateway.call(database.keys.list_keys()).total_count == 0
    key, _ = _new_key(browser, key_alias="with-token")
    ref = hash_key(key)[:16]
    assert browser.post("/ui/keys/block", {"key": ref}).status == 403
    assert browser.post("/ui/logout", {}).status == 403
    record = dash_gateway.call(database.keys.get(hash_key(key)))
    assert record is not None and not record.blocked
    other = _logged_in(dash_gateway)  # another session's token does not fit this one
    assert browser.post("/ui/keys/block", {"key": ref, "csrf_token": other.get("/ui").csrf}).status == 403


def test_key_actions_take_effect_at_the_gateway(dash_gateway: RunningGateway) -> None:
    """Created keys work; blocked: refused, unblocked: work; edits show; rotated change value; deleted go."""
    browser = _logged_in(dash_gateway)
    key, page = _new_key(browser, key_alias="dash-key", models="mock", rpm_limit="50", max_budget="2.5")
    assert "shown only this once" in page.text
    client = OpenAI(base_url=dash_gateway.url + "/v1", api_key=key, max_retries=0)
    client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "hi"}])
    listing = browser.get("/ui/keys")
    assert "dash-key" in listing.text and "rpm 50" in listing.text and "$2.50" in listing.text
    assert key not in listing.text  # shown once, never again
    ref = hash_key(key)[:16]
    blocked = browser.post("/ui/keys/block", {"key": ref, "csrf_token": listing.csrf})
    assert blocked.status == 303 and blocked.headers["location"] == "/ui/keys?done=blocked"
    with pytest.raises(AuthenticationError):
        client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "hi"}])
    assert "blocked" in browser.get("/ui/keys").text
    assert browser.post("/ui/keys/unblock", {"key": ref, "csrf_token": listing.csrf}).status == 303
    client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "again"}])
    edited = browser.post("/ui/keys/edit", {"key": ref, "csrf_token": listing.csrf, "rpm_limit": "7"})
    assert edited.status == 303
    assert "rpm 7" in browser.get("/ui/keys").text
    bad = browser.post("/ui/keys/edit", {"key": ref, "csrf_token": listing.csrf, "budget_duration": "soon"})
    assert bad.status == 400 and 'class="error"' in bad.text
    rotated = browser.post("/ui/keys/rotate", {"key": ref, "csrf_token": listing.csrf})
    assert rotated.status == 200 and "no longer works" in rotated.text
    found = re.search(r'id="new-key-value">(sk-[^<]+)<', rotated.text)
    assert found is not None and found.group(1) != key
    with pytest.raises(AuthenticationError):
        client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "old value"}])
    key, ref = found.group(1), hash_key(found.group(1))[:16]
    client = OpenAI(base_url=dash_gateway.url + "/v1", api_key=key, max_retries=0)
    client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "new value"}])
    unconfirmed = browser.post("/ui/keys/delete", {"key": ref, "csrf_token": listing.csrf})
    assert unconfirmed.status == 200 and 'id="confirm-delete"' in unconfirmed.text  # asks first
    assert dash_gateway.call(dash_gateway.app.database.keys.get(hash_key(key))) is not None  # type: ignore[union-attr]
    form = {"key": ref, "csrf_token": listing.csrf, "confirm": "yes"}
    assert browser.post("/ui/keys/delete", form).status == 303
    assert dash_gateway.call(dash_gateway.app.database.keys.get(hash_key(key))) is None  # type: ignore[union-attr]
    with pytest.raises(AuthenticationError):
        client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "hi"}])


def test_a_superuser_account_logs_in_and_a_plain_account_is_refused(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """The first superuser sees the dashboard; an ordinary account gets 403 and no session."""
    gateway = start_gateway(accounts_config(upstream.url))
    admin = V2(gateway.url).as_user(SUPERUSER, SUPERUSER_PASSWORD)
    created = admin.call(
        "POST", "/v2/users/", json={"email": "plain@example.com", "password": "plain-password-1"}
    )
    assert created.status in (200, 201), created.body
    plain = Browser(gateway.url)
    refused = plain.log_in(email="plain@example.com", password="plain-password-1")
    assert refused.status == 403 and "not a superuser" in refused.text
    assert not any(c.startswith("bastion_session=") for c in refused.set_cookies)
    assert plain.get("/ui").status == 303
    wrong = Browser(gateway.url).log_in(email=SUPERUSER, password="wrong-password-0")
    assert wrong.status == 401
    superuser = Browser(gateway.url)
    assert superuser.log_in(email=SUPERUSER, password=SUPERUSER_PASSWORD).status == 303
    users = superuser.get("/ui/users")
    assert users.status == 200 and "plain@example.com" in users.text and SUPERUSER in users.text
    assert "$argon2" not in users.text


def test_no_page_shows_a_secret(dash_gateway: RunningGateway) -> None:
    """After real traffic, no page holds the master key, a provider key, a key or a whole key hash."""
    browser = _logged_in(dash_gateway)
    key, created = _new_key(browser, key_alias="secret-check")
    client = OpenAI(base_url=dash_gateway.url + "/v1", api_key=key, max_retries=0)
    client.chat.completions.create(model="gpt", messages=[{"role": "user", "content": "a private prompt"}])
    dash_gateway.next_record()
    dash_gateway.call(dash_gateway.app.spend_writer.flush())  # type: ignore[union-attr]
    token = hash_key(key)
    assert token not in created.text
    seen: dict[str, Any] = {}
    for path in PAGES:
        page = browser.get(path)
        assert page.status == 200, (path, page.text[:500])
        seen[path] = page.text
        for secret in (MASTER_KEY, UPSTREAM_KEY, key, token, "a private prompt"):
            assert secret not in page.text, (path, secret[:8])
    assert "secret-check" in seen["/ui/requests"]
    assert "secret-check" in seen["/ui/spend?by=key&range=all"]


def test_master_key_guesses_are_throttled(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """After login_max_failures wrong master keys from one address, even the right one waits (429)."""
    gateway = start_gateway(
        {
            "model_list": standard_models(upstream.url),
            "bastion_settings": {"accounts": {"login_max_failures": 2, "login_slowdown_seconds": 0}},
        }
    )
    browser = Browser(gateway.url)
    assert [browser.log_in(master_key=f"sk-guess-{i}").status for i in range(2)] == [401, 401]
    locked = browser.log_in(master_key=MASTER_KEY)
    assert locked.status == 429 and "Too many failed logins" in locked.text
    assert not any(c.startswith("bastion_session=") for c in locked.set_cookies)


def test_team_actions_reach_the_team_keys(dash_gateway: RunningGateway) -> None:
    """A team made on the dashboard: blocking it refuses its keys, edits show, deleting it deletes keys."""
    browser = _logged_in(dash_gateway)
    teams = browser.get("/ui/teams")
    created = browser.post(
        "/ui/teams/create",
        {"csrf_token": teams.csrf, "team_id": "team-dash", "models": "mock", "max_budget": "5"},
    )
    assert created.status == 303 and created.headers["location"] == "/ui/teams?done=created"
    listing = browser.get("/ui/teams")
    assert "team-dash" in listing.text and "$5.00" in listing.text
    key, _ = _new_key(browser, key_alias="team-key", team_id="team-dash")
    client = OpenAI(base_url=dash_gateway.url + "/v1", api_key=key, max_retries=0)
    client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "hi"}])
    outside = browser.post(
        "/ui/keys/create", {"csrf_token": teams.csrf, "team_id": "team-dash", "models": "gpt"}
    )
    assert outside.status == 400 and "may only use mock" in outside.text
    form = {"csrf_token": teams.csrf, "team_id": "team-dash"}
    assert browser.post("/ui/teams/block", form).status == 303
    with pytest.raises(AuthenticationError):
        client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "hi"}])
    assert browser.post("/ui/teams/unblock", form).status == 303
    client.chat.completions.create(model="mock", messages=[{"role": "user", "content": "hi"}])
    assert browser.post("/ui/teams/edit", {**form, "rpm_limit": "9"}).status == 303
    assert "rpm 9" in browser.get("/ui/teams").text
    shown = _edit_form(browser, "", path="/ui/teams/edit?team_id=team-dash")
    assert shown["rpm_limit"] == shown["was_rpm_limit"] == "9" and shown["max_budget"] == "5"
    assert browser.post("/ui/teams/edit", shown).status == 303  # as shown: unchanged
    assert browser.post("/ui/teams/edit", {**shown, "rpm_limit": "", "max_budget": ""}).status == 303
    emptied = dash_gateway.call(dash_gateway.app.database.teams.get("team-dash"))  # type: ignore[union-attr]
    assert (emptied.rpm_limit, emptied.max_budget, emptied.models) == (None, None, ("mock",))
    assert browser.post("/ui/teams/delete", form).status == 303
    database = dash_gateway.app.database  # type: ignore[union-attr]
    assert dash_gateway.call(database.teams.get("team-dash")) is None
    assert dash_gateway.call(database.keys.get(hash_key(key))) is None
    missing = browser.post("/ui/teams/block", form)
    assert missing.status == 404 and "does not exist" in missing.text


def test_billing_page_shows_the_outbox(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """Events with their status and last error, totals per team, and the unbilled count; no sink key."""
    with FakeBilling() as fake:
        sink_key = "am_sk_dashboard_0123456789"
        gateway = start_gateway(
            {
                "model_list": standard_models(upstream.url),
                "billing_settings": {
                    "sinks": {"autumn": {"api_key": sink_key, "api_url": fake.url + "/autumn"}},
                    "run_in_process": False,
                },
            }
        )
        database = gateway.app.database  # type: ignore[union-attr]
        assert gateway.settings.billing is not None
        start = datetime(2026, 11, 1, tzinfo=UTC)
        logs = [
            SpendLogRecord(
                request_id=f"bill-{i}", api_key="k" * 64, team_id=team, spend=0.01, start_time=start
            )
            for i, team in enumerate(["org_a", "org_b"])
        ]
        gateway.call(database.spend.insert_spend_logs(logs))
        browser = _logged_in(gateway)
        before = browser.get("/ui/billing")
        assert re.search(r'id="unbilled">2<', before.text), before.text
        fake.fail("autumn", "400")
        workers = BillingWorkers(database.billing, gateway.settings.billing)
        gateway.call(workers.drain())
        gateway.call(workers.stop())
        after = browser.get("/ui/billing")
    assert re.search(r'id="unbilled">0<', after.text)
    assert "bill-0" in after.text and "bill-1" in after.text and "org_a" in after.text
    assert "parked" in after.text and "autumn answered 400" in after.text
    assert sink_key not in after.text


def test_models_page_shows_health_and_cooldown(dash_gateway: RunningGateway) -> None:
    """Every group and deployment is listed; a deployment cooling down says so, with the time left."""
    browser = _logged_in(dash_gateway)
    healthy = browser.get("/ui/models")
    for group in ("gpt", "claude", "gemini", "mock"):
        assert f"<td>{group}</td>" in healthy.text
    assert "cooling down" not in healthy.text
    router = dash_gateway.app.router  # type: ignore[union-attr]
    [deployment] = router.group("claude")
    router.health.cool_for(deployment.deployment_id, 120.0)
    cooling = browser.get("/ui/models")
    assert re.search(r"cooling down \(1[0-2]\d s left\)", cooling.text), cooling.text
    assert UPSTREAM_KEY not in cooling.text


# ---------------------------------------------------------------------- running a service from it


@pytest.fixture(params=["embedded", "scaled"])
def ops_gateway(
    request: pytest.FixtureRequest, start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> Iterator[RunningGateway]:
    """A gateway with a static key, on SQLite (embedded) or PostgreSQL and Redis (scaled)."""
    config: dict[str, Any] = {
        "model_list": standard_models(upstream.url),
        "router_settings": {"num_retries": 0},
        "bastion_settings": {
            "static_keys": [{"key": STATIC_KEY, "alias": "static-label", "models": ["gpt"]}]
        },
    }
    schema = None
    if request.param == "scaled":
        require(5432, "PostgreSQL")
        require(6379, "Redis")
        schema = "dash_" + secrets.token_hex(6)
        config["general_settings"] = {"database_url": f"{PG}?schema={schema}"}
        config["bastion_settings"]["redis_url"] = REDIS
    gateway = start_gateway(config)
    yield gateway
    if schema is not None:
        gateway.stop()
        asyncio.run(drop_schema(schema))


def _log(request_id: str, api_key: str, start: datetime, **fields: Any) -> SpendLogRecord:
    values: dict[str, Any] = {"model_group": "gpt", "model": "gpt-4o", "total_tokens": 10, "spend": 0.01}
    values.update(fields)
    return SpendLogRecord(request_id=request_id, api_key=api_key, start_time=start, **values)


def _request_ids(page: Page) -> list[str]:
    return re.findall(r'class="request-id">([^<]+)<', page.text)


def _all_request_ids(browser: Browser, query: str) -> list[str]:
    """Every request id the requests page lists for ``query``, following its "older" links."""
    found: list[str] = []
    path: str | None = "/ui/requests?" + query
    while path is not None:
        page = browser.get(path)
        assert page.status == 200, page.text[:500]
        ids = _request_ids(page)
        assert len(ids) <= 50
        found += ids
        older = re.search(r'<a href="([^"]+)" id="older">', page.text)
        path = older.group(1).replace("&amp;", "&") if older else None
    return found


def test_requests_page_filters_pages_and_says_why_a_request_failed(ops_gateway: RunningGateway) -> None:
    """Filters by key (alias, hash prefix, master key, static label), team, user, model, status and
    time; 50 rows a page with working older/newer links; a failure's reason in words."""
    gateway = ops_gateway
    browser = _logged_in(gateway)
    alpha, _ = _new_key(browser, key_alias="alpha")
    beta, _ = _new_key(browser, key_alias="beta")
    a, b = hash_key(alpha), hash_key(beta)
    now = datetime.now(UTC)
    logs = [_log(f"a-{i:03}", a, now - timedelta(minutes=i), team_id="t1", user="u1") for i in range(60)]
    logs += [_log(f"b-{i:03}", b, now - timedelta(minutes=i), model_group="claude") for i in range(50)]
    logs += [
        _log(
            f"bad-{i}",
            b,
            now - timedelta(minutes=i, seconds=30),
            model_group="claude",
            status="failure",
            http_status=504,
            metadata={"error_kind": "timeout"},
        )
        for i in range(5)
    ]
    logs += [
        _log("master-1", "litellm_proxy_master_key", now - timedelta(minutes=3)),
        _log("static-1", "static-label", now - timedelta(minutes=4)),
        _log("old-1", a, now - timedelta(days=3), team_id="t1", user="u1"),
    ]
    database = gateway.app.database  # type: ignore[union-attr]
    assert gateway.call(database.spend.insert_spend_logs(logs)) == len(logs)

    everything = _all_request_ids(browser, "")
    assert sorted(everything) == sorted(log.request_id for log in logs)  # each once, over 3 pages
    first = browser.get("/ui/requests")
    assert len(_request_ids(first)) == 50 and 'id="newer"' not in first.text
    assert 'id="older"' in first.text
    last = browser.get("/ui/requests?page=3")
    assert len(_request_ids(last)) == len(logs) - 100 and 'id="older"' not in last.text
    assert 'id="newer"' in last.text

    by_alias = _all_request_ids(browser, "key=alpha&range=all")
    assert sorted(by_alias) == sorted(log.request_id for log in logs if log.api_key == a)
    assert sorted(_all_request_ids(browser, f"key={a[:16]}")) == sorted(by_alias)
    assert _all_request_ids(browser, "key=master+key") == ["master-1"]
    assert _all_request_ids(browser, "key=static-label") == ["static-1"]
    assert _all_request_ids(browser, "key=no-such-key") == []  # never "everything"
    assert "master key" in browser.get("/ui/requests?key=master+key").text
    assert len(_all_request_ids(browser, "key=alpha&range=day")) == 60  # the 3-day-old row is out
    assert _all_request_ids(
        browser,
        f"key=alpha&start={(now - timedelta(days=3)):%Y-%m-%d}&end={(now - timedelta(days=3)):%Y-%m-%d}",
    ) == ["old-1"]
    assert len(_all_request_ids(browser, "team=t1&user=u1")) == 61
    assert len(_all_request_ids(browser, "model=claude")) == 55

    failed = browser.get("/ui/requests?status=failure")
    assert sorted(_request_ids(failed)) == [f"bad-{i}" for i in range(5)]
    reasons = re.findall(r'class="error-reason">([^<]+)<', failed.text)
    assert reasons == ["timeout: the provider did not answer in time (HTTP 504)"] * 5
    assert 'value="failure" selected' in failed.text  # the form shows the filter in use
    # A row's team and model link to the same page narrowed to them, the other filters kept.
    assert re.search(r'href="/ui/requests\?model=claude&amp;status=failure', failed.text)

    hostile = browser.get("/ui/requests?team=%3Cscript%3Ealert(1)%3C/script%3E&user=%00&page=-1")
    assert hostile.status == 200 and "<script>alert" not in hostile.text
    assert _request_ids(hostile) == [] and "No requests match" in hostile.text


def test_spend_over_time_and_its_csv(ops_gateway: RunningGateway) -> None:
    """Spend per day and per hour, per key, team, user and model, drawn with dated axes; the CSV
    holds the same numbers for the same filters, properly quoted, formulas defused, named by its
    content, and no key hash."""
    gateway = ops_gateway
    browser = _logged_in(gateway)
    key, _ = _new_key(browser, key_alias="csv-key")
    token = hash_key(key)
    now = datetime.now(UTC)
    today, yesterday = now.replace(minute=0, second=0, microsecond=0), now - timedelta(days=1)
    tricky = '=HYPERLINK("x"),"quoted"'
    logs = [
        _log("s1", token, today, team_id="acme, inc", user="ann", spend=1.25),
        _log("s2", token, today, team_id="acme, inc", user="ann", spend=0.75, status="failure"),
        _log("s3", token, yesterday, team_id=tricky, user="bob", spend=2.0, model_group="claude"),
        _log("s4", "litellm_proxy_master_key", yesterday, team_id=tricky, spend=0.5),
        _log("s5", token, now - timedelta(days=20), team_id="acme, inc", spend=9.0),
    ]
    database = gateway.app.database  # type: ignore[union-attr]
    gateway.call(database.spend.insert_spend_logs(logs))

    page = browser.get("/ui/spend?by=team&range=week")
    assert page.status == 200
    bars = dict(
        re.findall(
            r'<rect class="bar"[^>]*data-label="([^"]+)" data-value="([^"]+)"',
            page.text.split('id="chart-spend-time"')[1].split("</svg>")[0],
        )
    )
    assert len(bars) == 8  # a week back from now: 8 calendar days, the empty ones drawn as 0
    assert float(bars[f"{today:%Y-%m-%d}"]) == pytest.approx(2.0)
    assert float(bars[f"{yesterday:%Y-%m-%d}"]) == pytest.approx(2.5)
    assert 'class="y-tick"' in page.text and 'class="x-tick"' in page.text and "UTC days" in page.text
    assert "acme, inc" in page.text and "&lt;" not in tricky  # names drawn (escaped where needed)

    hourly = browser.get("/ui/spend?by=key&range=day")
    assert "UTC hours" in hourly.text and f"{today:%m-%d %H}:00" in hourly.text
    assert "csv-key" in hourly.text and token not in hourly.text

    answer = browser.get("/ui/spend.csv?by=team&range=week")
    assert answer.status == 200 and answer.headers["content-type"].startswith("text/csv")
    since = (now - timedelta(days=7)).strftime("%Y%m%d")
    assert answer.headers["content-disposition"] == (
        f'attachment; filename="bastion-spend-by-team-{since}-{now:%Y%m%d}.csv"'
    )
    assert "\r\n" in answer.text
    rows = list(csv.reader(io.StringIO(answer.text)))
    assert rows[0] == ["period_start_utc", "team", "requests", "errors", "total_tokens", "spend_usd"]
    table = {(row[0], row[1]): row[2:] for row in rows[1:]}
    assert table == {
        (f"{yesterday:%Y-%m-%d}", "'" + tricky): ["2", "0", "20", "2.5"],
        (f"{today:%Y-%m-%d}", "acme, inc"): ["2", "1", "20", "2"],
    }

    failures = list(
        csv.reader(io.StringIO(browser.get("/ui/spend.csv?by=user&range=week&status=failure").text))
    )
    assert failures[1:] == [[f"{today:%Y-%m-%d}", "ann", "1", "1", "10", "0.75"]]

    by_key = browser.get("/ui/spend.csv?by=key&range=week&team=acme%2C+inc")
    assert token not in by_key.text
    keyed = list(csv.reader(io.StringIO(by_key.text)))
    assert keyed[0][:3] == ["period_start_utc", "key", "key_ref"]
    assert [row[1:3] for row in keyed[1:]] == [[f"csv-key ({key[:3]}...{key[-4:]})", token[:16]]]
    hours = list(csv.reader(io.StringIO(browser.get("/ui/spend.csv?by=model&range=day").text)))
    assert f"{today:%Y-%m-%dT%H}:00Z" in {row[0] for row in hours[1:]}


def test_keys_page_expiry_last_use_search_clearing_and_confirmed_delete(ops_gateway: RunningGateway) -> None:
    """Expiry as a field and a column, when each key was last used, search, a limit cleared by
    emptying its field (unlike leaving it as shown), a confirmation before delete, static keys
    listed by their labels."""
    gateway = ops_gateway
    database = gateway.app.database  # type: ignore[union-attr]
    browser = _logged_in(gateway)
    key, _ = _new_key(
        browser, key_alias="edit-me", rpm_limit="50", max_budget="2.5", tpm_limit="1000", duration="30d"
    )
    _new_key(browser, key_alias="100%_other")
    token, ref = hash_key(key), hash_key(key)[:16]
    listing = browser.get("/ui/keys")
    row = _key_row(listing, "edit-me")
    assert "never" in row  # not used yet
    expires = gateway.call(database.keys.get(token)).expires
    assert expires is not None and f"{expires:%Y-%m-%d %H:%M}" in row
    assert "static-label" in listing.text.split('id="static-keys"')[1] and STATIC_KEY not in listing.text

    OpenAI(base_url=gateway.url + "/v1", api_key=key, max_retries=0).chat.completions.create(
        model="mock", messages=[{"role": "user", "content": "hi"}]
    )
    gateway.next_record()
    gateway.call(gateway.app.spend_writer.flush())  # type: ignore[union-attr]
    used = _key_row(browser.get("/ui/keys"), "edit-me")
    assert re.search(r'class="last-used">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d<', used), used

    assert "edit-me" in browser.get("/ui/keys?q=EDIT").text
    assert "100%_other" not in browser.get("/ui/keys?q=EDIT").text
    assert "edit-me" not in browser.get("/ui/keys?q=%25_").text  # % and _ are literal
    assert "100%_other" in browser.get("/ui/keys?q=%25_").text
    assert "edit-me" in browser.get(f"/ui/keys?q={key[-4:]}").text  # the masked name's last characters

    form = _edit_form(browser, ref)
    assert form["rpm_limit"] == form["was_rpm_limit"] == "50" and form["max_budget"] == "2.5"
    assert browser.post("/ui/keys/edit", form).status == 303  # as shown: nothing changes
    same = gateway.call(database.keys.get(token))
    assert (same.rpm_limit, same.max_budget, same.expires) == (50, 2.5, expires)

    cleared = browser.post("/ui/keys/edit", {**form, "rpm_limit": "", "max_budget": "", "expires": ""})
    assert cleared.status == 303, cleared.text
    record = gateway.call(database.keys.get(token))
    assert (record.rpm_limit, record.max_budget, record.expires, record.tpm_limit) == (None, None, None, 1000)
    assert "rpm" not in _key_row(browser.get("/ui/keys"), "edit-me").split("tpm")[0]

    # Without the shown values (an older page, a script): empty still means "leave as it is".
    assert (
        browser.post("/ui/keys/edit", {"key": ref, "csrf_token": form["csrf_token"], "tpm_limit": ""}).status
        == 303
    )
    assert gateway.call(database.keys.get(token)).tpm_limit == 1000

    form = _edit_form(browser, ref)
    at = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    assert browser.post("/ui/keys/edit", {**form, "expires": f"{at:%Y-%m-%dT%H:%M:%S}"}).status == 303
    later = gateway.call(database.keys.get(token)).expires
    assert later is not None and abs((later - at).total_seconds()) < 60
    past = browser.post("/ui/keys/edit", {**form, "expires": "2001-01-01T00:00"})
    assert past.status == 400 and "in the future" in past.text

    question = browser.get(f"/ui/keys/delete?key={ref}")
    assert question.status == 200 and "edit-me" in question.text and 'id="confirm"' in question.text
    assert gateway.call(database.keys.get(token)) is not None
    gone = browser.post("/ui/keys/delete", {"key": ref, "csrf_token": question.csrf, "confirm": "yes"})
    assert gone.status == 303 and gateway.call(database.keys.get(token)) is None


def test_models_page_counts_every_request_a_deployment_served(dash_gateway: RunningGateway) -> None:
    """The request count comes from the spend logs of the last 24 hours: with the default
    (simple-shuffle) routing, which counts no requests in its per-minute usage, it was always 0."""
    browser = _logged_in(dash_gateway)
    client = OpenAI(base_url=dash_gateway.url + "/v1", api_key=MASTER_KEY, max_retries=0)
    for _ in range(3):
        client.chat.completions.create(model="claude", messages=[{"role": "user", "content": "hi"}])
        dash_gateway.next_record()
    dash_gateway.call(dash_gateway.app.spend_writer.flush())  # type: ignore[union-attr]
    page = browser.get("/ui/models")
    rows = {
        re.search(r"<td>([^<]+)</td>", row).group(1): row  # type: ignore[union-attr]
        for row in page.text.split("<tbody>")[1].split("</tr>")
        if "<td>" in row
    }
    assert 'class="served">3<' in rows["claude"] and 'class="served">0<' in rows["gpt"]


def _key_row(page: Page, alias: str) -> str:
    rows = [row for row in page.text.split("<tbody>")[1].split("</tr>") if f">{alias}<" in row]
    assert len(rows) == 1, page.text[:3000]
    return rows[0]


def _edit_form(browser: Browser, ref: str, *, path: str = "") -> dict[str, str]:
    page = browser.get(path or f"/ui/keys/edit?key={ref}")
    assert page.status == 200, page.text[:500]
    fields = dict(re.findall(r'name="([a-z_]+)"[^>]*value="([^"]*)"', page.text))
    return {name: html.unescape(value) for name, value in fields.items()}


def _hostile(name: str) -> str:
    """Text that would become markup (a tag, an attribute break, an entity) if a page forgot to escape it."""
    return f"\"'><i id=xss-{name}>&amp;"


def test_every_page_escapes_what_operators_and_clients_wrote(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """Aliases, ids, model groups, request ids, error kinds, static labels and the filters in the
    query string are shown as text on every page, never as markup; links built from them still
    lead where they say."""
    group = _hostile("group")
    gateway = start_gateway(
        {
            "model_list": [
                *standard_models(upstream.url),
                {"model_name": group, "litellm_params": {"model": "mock/echo"}},
            ],
            "bastion_settings": {"static_keys": [{"key": STATIC_KEY, "alias": _hostile("static")}]},
        }
    )
    browser = _logged_in(gateway)
    teams = browser.get("/ui/teams")
    team = _hostile("team") + "#frag?x=1&y=2"
    made = browser.post(
        "/ui/teams/create", {"csrf_token": teams.csrf, "team_id": team, "team_alias": _hostile("team-alias")}
    )
    assert made.status == 303, made.text
    key, _ = _new_key(browser, key_alias=_hostile("alias"), team_id=team, user_id=_hostile("user"))
    token = hash_key(key)
    now = datetime.now(UTC)
    logs = [
        _log(
            _hostile("request"),
            token,
            now,
            team_id=team,
            user=_hostile("user"),
            end_user=_hostile("end-user"),
            model_group=group,
            model=_hostile("upstream"),
            status="failure",
            http_status=500,
            metadata={"error_kind": _hostile("kind")},
        ),
        _log("static-row", _hostile("static"), now),
    ]
    gateway.call(gateway.app.database.spend.insert_spend_logs(logs))  # type: ignore[union-attr]
    ref = token[:16]
    filters = urllib.parse.urlencode(
        {name: _hostile(f"q-{name}") for name in ("key", "team", "user", "model", "status", "range", "start")}
    )
    paths = [
        "/ui",
        "/ui/keys",
        "/ui/keys?q=" + urllib.parse.quote(_hostile("q")),
        f"/ui/keys/edit?key={ref}",
        f"/ui/keys/delete?key={ref}",
        "/ui/requests",
        "/ui/requests?" + filters,
        "/ui/requests?status=failure",
        "/ui/spend?by=team&range=all&" + filters,
        "/ui/teams",
        "/ui/users",
        "/ui/plans",
        "/ui/models",
    ] + [f"/ui/spend?by={by}&range=all" for by in ("team", "user", "key", "model")]
    shown: dict[str, str] = {}
    for path in paths:
        page = browser.get(path)
        assert page.status == 200, (path, page.text[:300])
        assert "<i id=xss" not in page.text, (path, page.text[page.text.find("<i id=xss") - 200 :][:400])
        shown[path] = page.text
    escaped = "&lt;i id=xss-"
    assert escaped + "alias&gt;" in shown["/ui/keys"] and escaped + "static&gt;" in shown["/ui/keys"]
    assert escaped + "kind&gt;" in shown["/ui/requests?status=failure"]
    assert (
        escaped + "group&gt;" in shown["/ui/models"]
        and escaped + "q-team&gt;" in shown["/ui/requests?" + filters]
    )
    refused = browser.post("/ui/keys/create", {"csrf_token": teams.csrf, "team_id": _hostile("missing")})
    assert (
        refused.status == 400 and "<i id=xss" not in refused.text and escaped + "missing&gt;" in refused.text
    )

    # The links carry the hostile values intact: the team's edit link opens that team, the
    # requests page's team link narrows to it.
    edit = re.search(r'href="(/ui/teams/edit\?[^"]+)"', shown["/ui/teams"])
    assert edit is not None
    opened = browser.get(html.unescape(edit.group(1)))
    assert opened.status == 200 and html.escape(team) in opened.text, opened.text[:500]
    narrow = re.search(r'href="(/ui/requests\?team=[^"]+)"', shown["/ui/requests"])
    assert narrow is not None
    assert _request_ids(browser.get(html.unescape(narrow.group(1)))) == [html.escape(_hostile("request"))]
