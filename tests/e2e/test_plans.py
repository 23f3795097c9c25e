"""Plans end to end: end users put on plans by a token claim, the customer API or the default plan;
a plan's token quota refused with the plan's sentence in the caller's format; upgrades on the next
request; a quota held by two `bastion serve` processes sharing PostgreSQL and Redis."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anthropic
import openai
import orjson
import pytest
from test_jwt_auth import jwt_auth
from test_key_api import post
from test_sdk_passthrough import anthropic_client, openai_client

from bastion.accounting.spend_rows import spend_row
from bastion.settings import Settings, load_settings
from bastion.store.database import Database
from bastion.store.spend import SpendFilter
from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import MockUpstream
from support import MASTER_KEY, UPSTREAM_KEY, deployment, standard_models
from support.accounts import SUPERUSER, SUPERUSER_PASSWORD, V2, accounts_config
from support.backends import PG, REDIS, drop_schema, require
from support.dashboard import Browser
from support.identity import SigningKey, claims
from support.serve import ServeProcess

ROOT = Path(__file__).resolve().parents[2]
HELLO = [{"role": "user", "content": "hello"}]
#: A call of HELLO with max_tokens=5 reserves about 14 tokens (its estimate) and counts 6 (1 + 5).
QUOTA = 60
SENTENCE = (
    "Your {plan} plan's {limit} tokens for {period} are used. They renew on {renews}, or upgrade for more."
)


def plans() -> dict[str, Any]:
    return {
        "free": {
            "max_tokens_per_period": QUOTA,
            "quota_duration": "1mo",
            "models": ["gpt", "claude"],
            "quota_message": SENTENCE,
        },
        "pro": {},
        "slow": {"rpm_limit": 1},
        "metered": {"rpm_limit": 5, "max_tokens_per_period": 1000, "quota_duration": "1mo"},
    }


@pytest.fixture(scope="module")
def idp() -> SigningKey:
    return SigningKey("rsa")


@pytest.fixture
def plan_gateway(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, idp: SigningKey
) -> RunningGateway:
    return start_gateway(
        {
            "model_list": standard_models(upstream.url),
            "router_settings": {"num_retries": 0},
            "bastion_settings": {
                "jwt_auth": jwt_auth([idp], plan_claim="plan"),
                "plans": plans(),
                "default_plan": "free",
            },
        }
    )


def user_token(idp: SigningKey, **extra: Any) -> tuple[str, str]:
    user = "user-" + secrets.token_hex(4)
    return user, idp.sign(claims(user, **extra))


def use_up(client: openai.OpenAI, gw: RunningGateway | None = None) -> int:
    """Call until the quota refuses; the number of calls answered. With ``gw`` (in this process),
    each call's tokens are settled before the next (else a call may still hold its estimate)."""
    for answered in range(QUOTA):
        try:
            client.chat.completions.create(model="gpt", messages=HELLO, max_tokens=5)
        except openai.RateLimitError:
            return answered
        if gw is not None:
            assert gw.app is not None and gw.app.gatekeeper is not None
            gw.call(gw.app.gatekeeper.settled())
    raise AssertionError("the quota never refused a call")


def said(err: openai.APIStatusError) -> str:
    """The error's message as the gateway wrote it (the SDK's ``message`` adds "Error code: ...")."""
    body: Any = err.body
    return str(body["message"])


def get_json(gw: Any, path: str) -> Any:
    request = urllib.request.Request(f"{gw.url}{path}", headers={"authorization": f"Bearer {MASTER_KEY}"})
    with urllib.request.urlopen(request) as resp:
        return orjson.loads(resp.read())


def test_a_free_users_quota_is_refused_with_the_plans_sentence_in_each_format(
    plan_gateway: RunningGateway, idp: SigningKey
) -> None:
    """Tokens counted input plus output, reserved before each call: the call that would overrun the
    quota is a 429 with retry-after until the 1st of next month and the plan's sentence, on the
    OpenAI and the Anthropic surface alike; a pro user is not limited; /metrics counts by plan."""
    user, token = user_token(idp, plan="free")
    client = openai_client(plan_gateway, token)
    answered = use_up(client, plan_gateway)
    assert answered == 8  # 8 x 6 tokens counted, and a 9th could need 14 more than the 12 left
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model="gpt", messages=HELLO, max_tokens=5)
    month = time.strftime("%B", time.gmtime())
    message = said(refused.value)
    assert message.startswith(f"Your free plan's {QUOTA} tokens for {month} are used. They renew on 1 ")
    assert refused.value.code == "plan_quota_exceeded"
    retry_after = float(refused.value.response.headers["retry-after"])
    assert 0 < retry_after <= 31 * 86400
    assert refused.value.response.headers["x-ratelimit-limit-tokens"] == str(QUOTA)
    assert refused.value.response.headers["x-ratelimit-remaining-tokens"] == "12"  # 60 - 8 x 6
    with pytest.raises(anthropic.RateLimitError) as in_anthropic:
        anthropic_client(plan_gateway, token).messages.create(model="claude", max_tokens=5, messages=HELLO)
    body: Any = in_anthropic.value.body
    assert body["error"]["type"] == "rate_limit_error" and body["error"]["message"].startswith(
        "Your free plan"
    )
    assert float(in_anthropic.value.response.headers["retry-after"]) > 0

    _, pro = user_token(idp, plan="pro")
    pro_client = openai_client(plan_gateway, pro)
    for _ in range(10):  # more than the free quota allows
        pro_client.chat.completions.create(model="gpt", messages=HELLO, max_tokens=5)

    metrics = urllib.request.urlopen(f"{plan_gateway.url}/metrics").read().decode()
    assert 'bastion_plan_quota_refusals_total{plan="free"} 3.0' in metrics

    assert plan_gateway.app is not None and plan_gateway.app.spend_writer is not None
    plan_gateway.call(plan_gateway.app.spend_writer.flush())
    rows = get_json(plan_gateway, f"/spend/logs?user_id={user}&summarize=false")
    assert {row["plan"] for row in rows} == {"free"} and len(rows) == answered + 3
    counted = sum(row["prompt_tokens"] + row["completion_tokens"] for row in rows)
    assert counted <= QUOTA


def test_default_plan_customer_api_and_blocking_apply_on_the_next_request(
    plan_gateway: RunningGateway, idp: SigningKey
) -> None:
    """No claim: the default plan. /customer/new moves the user to pro (usage carries over: back on
    free they are still refused); a model outside the plan and a blocked customer are 403s."""
    user, token = user_token(idp)  # no plan claim
    client = openai_client(plan_gateway, token)
    assert use_up(client, plan_gateway) == 8
    with pytest.raises(openai.PermissionDeniedError) as outside:
        client.chat.completions.create(model="gemini", messages=HELLO, max_tokens=5)
    assert "free plan does not include model 'gemini'" in outside.value.message

    post(plan_gateway, "/customer/new", {"user_id": user, "budget_id": "pro"})
    client.chat.completions.create(model="gpt", messages=HELLO, max_tokens=5)  # upgraded: passes
    client.chat.completions.create(model="gemini", messages=HELLO, max_tokens=5)
    post(plan_gateway, "/customer/update", {"user_id": user, "budget_id": "free"})
    with pytest.raises(openai.RateLimitError):  # downgraded: the month's usage is still counted
        client.chat.completions.create(model="gpt", messages=HELLO, max_tokens=5)

    post(plan_gateway, "/customer/update", {"user_id": user, "budget_id": "slow"})
    client.chat.completions.create(model="gpt", messages=HELLO, max_tokens=5)
    with pytest.raises(openai.RateLimitError) as rpm:
        client.chat.completions.create(model="gpt", messages=HELLO, max_tokens=5)
    assert "1 request per minute" in rpm.value.message

    post(plan_gateway, "/customer/block", {"user_ids": [user]})
    with pytest.raises(openai.PermissionDeniedError) as blocked:
        client.chat.completions.create(model="gpt", messages=HELLO, max_tokens=5)
    assert blocked.value.code == "end_user_blocked"


def test_a_plan_made_through_the_api_applies_and_its_changes_too(
    plan_gateway: RunningGateway, idp: SigningKey
) -> None:
    """/budget/new then a token naming it; /budget/update lowers its quota for the next request."""
    post(plan_gateway, "/budget/new", {"budget_id": "team", "max_tokens_per_period": 1000})
    _, token = user_token(idp, plan="team")
    client = openai_client(plan_gateway, token)
    for _ in range(9):  # the free plan would refuse the ninth
        client.chat.completions.create(model="gpt", messages=HELLO, max_tokens=5)
    post(plan_gateway, "/budget/update", {"budget_id": "team", "max_tokens_per_period": 10})
    with pytest.raises(openai.RateLimitError) as refused:
        client.chat.completions.create(model="gpt", messages=HELLO, max_tokens=5)
    assert said(refused.value).startswith("Your team plan's 10 tokens are used. Upgrade for more.")
    assert "retry-after" not in refused.value.response.headers  # a quota that never renews


@pytest.fixture
def serve_pair(
    write_config: Callable[[dict[str, Any]], Settings], upstream: MockUpstream, idp: SigningKey
) -> Iterator[tuple[ServeProcess, ServeProcess, str]]:
    require(5432, "PostgreSQL")
    require(6379, "Redis")
    schema = "bt_" + secrets.token_hex(6)
    url = f"{PG}?schema={schema}"
    settings = write_config(
        {
            "model_list": standard_models(upstream.url),
            "general_settings": {"database_url": url},
            "router_settings": {"num_retries": 0},
            "bastion_settings": {
                "redis_url": REDIS,
                "jwt_auth": jwt_auth([idp], plan_claim="plan"),
                "plans": plans(),
            },
        }
    )
    first = ServeProcess(settings.source)
    first.start()  # migrates first; the second starts on an up-to-date schema
    second = ServeProcess(settings.source)
    second.start()
    yield first, second, url
    for process in (first, second):
        process.terminate()
        assert process.wait() == 0, process.log()
    asyncio.run(drop_schema(schema))


def test_a_quota_holds_across_two_processes_under_concurrency(
    serve_pair: tuple[ServeProcess, ServeProcess, str], idp: SigningKey
) -> None:
    """40 concurrent calls of one free user, half through each process: the tokens counted stay
    within the quota (reserved in Redis before each call), and the rest get the plan's 429."""
    first, second, url = serve_pair
    user, token = user_token(idp, plan="free")
    clients = [openai_client(first, token), openai_client(second, token)]

    def call(n: int) -> str:
        try:
            clients[n % 2].chat.completions.create(model="gpt", messages=HELLO, max_tokens=5)
        except openai.RateLimitError as err:
            assert said(err).startswith("Your free plan's")
            return "refused"
        return "ok"

    with ThreadPoolExecutor(max_workers=20) as pool:
        outcomes = list(pool.map(call, range(40)))
    assert 1 <= outcomes.count("ok") <= 8 and outcomes.count("refused") >= 32
    for process in (first, second):
        process.terminate()
        assert process.wait() == 0, process.log()

    async def counted() -> tuple[int, int]:
        database = await Database.open(url, default_path="unused.db", migrate=False)
        try:
            totals = await database.spend.summarize_spend(SpendFilter(user=user))
            return totals.requests, totals.prompt_tokens + totals.completion_tokens
        finally:
            await database.close()

    requests, tokens = asyncio.run(counted())
    assert requests == 40 and 0 < tokens <= QUOTA


def test_an_upgrade_through_one_process_applies_on_the_other(
    serve_pair: tuple[ServeProcess, ServeProcess, str], idp: SigningKey
) -> None:
    """A free user refused on the second process is let through there within a second of being
    moved to pro through the first (the change is published on Redis)."""
    first, second, _ = serve_pair
    user, token = user_token(idp, plan="free")
    other = openai_client(second, token)
    # The free plan is now cached on the second process, and used up (the 8th call may be refused
    # while the 7th still holds its estimate: settling runs after the answer).
    assert 7 <= use_up(other) <= 8
    post(first, "/customer/new", {"user_id": user, "budget_id": "pro"})
    deadline = time.monotonic() + 1.0
    passed = False
    while time.monotonic() < deadline and not passed:
        try:
            other.chat.completions.create(model="gpt", messages=HELLO, max_tokens=5)
            passed = True
        except openai.RateLimitError:
            pass
    assert passed, "the second process still held the user to the free plan after a second"


def test_an_end_user_reads_their_plan_and_quota_left(plan_gateway: RunningGateway, idp: SigningKey) -> None:
    """GET /v1/usage/me with the user's own token, or the app's key and ?user= for a customer:
    the plan, the tokens used and left, and when they renew."""
    user, token = user_token(idp, plan="free")
    client = openai_client(plan_gateway, token)
    for _ in range(3):
        client.chat.completions.create(model="gpt", messages=HELLO, max_tokens=5)
    request = urllib.request.Request(
        f"{plan_gateway.url}/v1/usage/me", headers={"authorization": f"Bearer {token}"}
    )
    assert plan_gateway.app is not None and plan_gateway.app.gatekeeper is not None
    plan_gateway.call(plan_gateway.app.gatekeeper.settled())  # the three calls' tokens are counted
    with urllib.request.urlopen(request) as resp:
        mine = orjson.loads(resp.read())
    assert mine["end_user"] == user and mine["plan"]["name"] == "free"
    quota = mine["quota"]
    assert (quota["limit"], quota["used"], quota["in_flight"], quota["remaining"]) == (
        QUOTA,
        18,
        0,
        QUOTA - 18,
    )
    assert quota["resets_at"].endswith("T00:00:00+00:00") and quota["resets_at"][8:10] == "01"
    assert 0 < quota["resets_in_seconds"] <= 31 * 86400

    post(plan_gateway, "/customer/new", {"user_id": "shop-customer-1", "budget_id": "free"})
    on_behalf = get_json(plan_gateway, "/v1/usage/me?user=shop-customer-1")
    assert on_behalf["plan"]["name"] == "free" and on_behalf["quota"]["used"] == 0
    with pytest.raises(urllib.error.HTTPError) as no_user:
        get_json(plan_gateway, "/v1/usage/me")
    assert no_user.value.code == 400


def test_a_persons_usage_page_shows_their_plan(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    """/v2/billing/usage/my-usage: people who log in are end users of plans too."""
    config = accounts_config(upstream.url)
    free = {"max_tokens_per_period": QUOTA, "quota_duration": "1mo"}
    config["bastion_settings"] |= {"plans": {"free": free}, "default_plan": "free"}
    gw = start_gateway(config)
    admin = V2(gw.url).as_user(SUPERUSER, SUPERUSER_PASSWORD)
    made = admin.call("POST", "/v2/users", json={"email": "p@example.com", "password": "password-123456"})
    assert made.status in (200, 201), made.body
    person = V2(gw.url).as_user("p@example.com", "password-123456")
    usage = person.call("GET", "/v2/billing/usage/my-usage")
    assert usage.status == 200 and usage.body["plan"]["plan"]["name"] == "free"
    assert usage.body["plan"]["quota"]["remaining"] == QUOTA


def test_answers_carry_the_tightest_limits_left_in_each_surfaces_headers(
    plan_gateway: RunningGateway, idp: SigningKey
) -> None:
    """OpenAI's x-ratelimit-* and Anthropic's anthropic-ratelimit-*: the plan's rpm and the quota's
    tokens left after each call (from what admission counted), and a key's own rpm/tpm."""
    _, token = user_token(idp, plan="metered")
    assert plan_gateway.app is not None and plan_gateway.app.gatekeeper is not None
    raw = openai_client(plan_gateway, token).chat.completions.with_raw_response.create(
        model="gpt", messages=HELLO, max_tokens=5
    )
    first = raw.headers
    assert (first["x-ratelimit-limit-requests"], first["x-ratelimit-remaining-requests"]) == ("5", "4")
    assert first["x-ratelimit-reset-requests"] == "12s"  # one request of 5 a minute drains in 12 s
    assert first["x-ratelimit-limit-tokens"] == "1000"
    reserved = 1000 - int(first["x-ratelimit-remaining-tokens"])
    assert 6 < reserved < 40  # the call's estimate is held until it settles
    assert first["x-ratelimit-reset-tokens"].endswith("s") and "h" in first["x-ratelimit-reset-tokens"]
    plan_gateway.call(plan_gateway.app.gatekeeper.settled())
    answer = anthropic_client(plan_gateway, token).messages.with_raw_response.create(
        model="claude", max_tokens=5, messages=HELLO
    )
    second = answer.headers
    assert second["anthropic-ratelimit-requests-limit"] == "5"
    assert second["anthropic-ratelimit-requests-remaining"] == "3"
    assert second["anthropic-ratelimit-tokens-limit"] == "1000"
    # The first call counted 6 tokens; this one holds the same estimate as the first did.
    assert int(second["anthropic-ratelimit-tokens-remaining"]) == 1000 - 6 - reserved
    assert second["anthropic-ratelimit-requests-reset"].endswith("Z")
    assert "x-ratelimit-limit-requests" not in second

    key = post(plan_gateway, "/key/generate", {"rpm_limit": 7, "tpm_limit": 5000})["key"]
    keyed = openai_client(plan_gateway, key).chat.completions.with_raw_response.create(
        model="gpt", messages=HELLO, max_tokens=5
    )
    assert keyed.headers["x-ratelimit-limit-requests"] == "7"
    assert keyed.headers["x-ratelimit-remaining-requests"] == "6"
    assert keyed.headers["x-ratelimit-limit-tokens"] == "5000"


def test_rpm_and_tpm_refusals_carry_the_refusing_limits_headers(
    plan_gateway: RunningGateway, idp: SigningKey
) -> None:
    """A 429 of an rpm or tpm limit shows that limit in the surface's headers, with nothing left,
    as an admitted answer would (from the refusal itself; no other limit is read for it)."""
    _, token = user_token(idp, plan="slow")  # rpm_limit 1
    openai_client(plan_gateway, token).chat.completions.create(model="gpt", messages=HELLO, max_tokens=5)
    with pytest.raises(openai.RateLimitError) as refused:
        openai_client(plan_gateway, token).chat.completions.create(model="gpt", messages=HELLO, max_tokens=5)
    headers = refused.value.response.headers
    assert (headers["x-ratelimit-limit-requests"], headers["x-ratelimit-remaining-requests"]) == ("1", "0")
    assert headers["x-ratelimit-reset-requests"].endswith("s") and "retry-after" in headers
    assert "x-ratelimit-limit-tokens" not in headers
    with pytest.raises(anthropic.RateLimitError) as on_anthropic:
        anthropic_client(plan_gateway, token).messages.create(model="claude", max_tokens=5, messages=HELLO)
    assert on_anthropic.value.response.headers["anthropic-ratelimit-requests-limit"] == "1"
    assert on_anthropic.value.response.headers["anthropic-ratelimit-requests-remaining"] == "0"

    key = post(plan_gateway, "/key/generate", {"tpm_limit": 10})["key"]
    keyed = openai_client(plan_gateway, key)
    keyed.chat.completions.create(model="gpt", messages=HELLO, max_tokens=5)  # counts 6 tokens
    assert plan_gateway.app is not None and plan_gateway.app.gatekeeper is not None
    plan_gateway.call(plan_gateway.app.gatekeeper.settled())
    with pytest.raises(openai.RateLimitError) as too_many_tokens:
        keyed.chat.completions.create(model="gpt", messages=HELLO, max_tokens=5)
    tokens = too_many_tokens.value.response.headers
    assert tokens["x-ratelimit-limit-tokens"] == "10"
    # 4 left (less than the call's estimate), more as the minute drains the 6 counted.
    assert 4 <= int(tokens["x-ratelimit-remaining-tokens"]) < 10
    assert "x-ratelimit-limit-requests" not in tokens


def test_the_dashboard_lists_plans_with_members_and_usage_against_quota(
    plan_gateway: RunningGateway, idp: SigningKey
) -> None:
    """/ui/plans: each plan, where it is defined, its customers, who used it this period and how
    much of the quota they used on average."""
    user, token = user_token(idp, plan="free")
    client = openai_client(plan_gateway, token)
    for _ in range(5):
        client.chat.completions.create(model="gpt", messages=HELLO, max_tokens=5)
    post(plan_gateway, "/customer/new", {"user_id": user, "budget_id": "free"})
    post(plan_gateway, "/budget/new", {"budget_id": "team", "rpm_limit": 3, "models": ["<b>gpt</b>"]})
    assert plan_gateway.app is not None and plan_gateway.app.spend_writer is not None
    plan_gateway.call(plan_gateway.app.spend_writer.flush())
    browser = Browser(plan_gateway.url)
    assert browser.log_in(master_key=MASTER_KEY).status == 303
    page = browser.get("/ui/plans")
    assert page.status == 200
    free = re.search(r"<tr><td>free</td>(.*?)</tr>", page.text)
    assert free is not None, page.text
    cells = re.findall(r"<td>(.*?)</td>", free.group(1))
    # defined in, limits, quota, customers, active, tokens (5 calls x 6), average use of the quota
    assert cells[0] == "config file" and cells[2] == f"{QUOTA} / 1mo"
    assert (cells[3], cells[4], cells[5], cells[6]) == ("1", "1", "30", "50% of quota")
    team = re.search(r"<tr><td>team</td><td>API</td><td>(.*?)</td>", page.text)
    assert team is not None and team.group(1) == "3 rpm; models: &lt;b&gt;gpt&lt;/b&gt;"  # escaped


def test_a_key_or_a_team_may_carry_a_plan(plan_gateway: RunningGateway) -> None:
    """metadata.plan on a key puts the key on the plan (its own limits still apply too); on a team,
    the team is the member: its keys share one quota."""
    key = post(plan_gateway, "/key/generate", {"metadata": {"plan": "metered"}, "rpm_limit": 100})["key"]
    raw = openai_client(plan_gateway, key).chat.completions.with_raw_response.create(
        model="gpt", messages=HELLO, max_tokens=5
    )
    assert raw.headers["x-ratelimit-limit-requests"] == "5"  # the plan's, tighter than the key's 100
    assert raw.headers["x-ratelimit-limit-tokens"] == "1000"
    mine = orjson.loads(
        urllib.request.urlopen(
            urllib.request.Request(
                f"{plan_gateway.url}/v1/usage/me", headers={"authorization": f"Bearer {key}"}
            )
        ).read()
    )
    assert mine["plan"]["name"] == "metered" and mine["end_user"] is None

    team = "team-" + secrets.token_hex(4)
    post(plan_gateway, "/team/new", {"team_id": team, "metadata": {"plan": "free"}})
    clients = [
        openai_client(plan_gateway, post(plan_gateway, "/key/generate", {"team_id": team})["key"])
        for _ in range(2)
    ]
    assert plan_gateway.app is not None and plan_gateway.app.gatekeeper is not None
    answered = 0
    with pytest.raises(openai.RateLimitError) as refused:
        for n in range(QUOTA):
            clients[n % 2].chat.completions.create(model="gpt", messages=HELLO, max_tokens=5)
            plan_gateway.call(plan_gateway.app.gatekeeper.settled())
            answered += 1
    assert answered == 8  # both keys counted against the team's one free quota
    assert said(refused.value).startswith("Your free plan's")


@pytest.fixture
def aliased_gateway(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream, idp: SigningKey
) -> RunningGateway:
    """A free plan whose 'claude' and 'gpt' are served by cheaper groups; pro gets what it asks for."""
    return start_gateway(
        {
            "model_list": [
                *standard_models(upstream.url),
                deployment("gpt-mini", "openai/gpt-4.1-nano", upstream.url + "/v1"),
                deployment("claude-haiku", "anthropic/claude-haiku-4-5", upstream.url),
            ],
            "router_settings": {"num_retries": 0},
            "bastion_settings": {
                "jwt_auth": jwt_auth([idp], plan_claim="plan"),
                "plans": {
                    "free": {
                        "models": ["gpt", "claude"],
                        "model_aliases": {"gpt": "gpt-mini", "claude": "claude-haiku"},
                        "rpm_limit": 50,
                        "max_tokens_per_period": 10_000,
                        "quota_duration": "1mo",
                    },
                    "pro": {},
                },
                "default_plan": "free",
            },
        }
    )


def test_a_plans_model_aliases_route_its_members_to_the_cheaper_group(
    aliased_gateway: RunningGateway, upstream: MockUpstream, idp: SigningKey
) -> None:
    """A free end user's 'gpt' and 'claude' are served by the plan's cheaper groups, recorded as a
    routing rule named plan:free (spend row, headers), limits and prices of the group that served;
    a pro user gets the group asked for; a key put on a plan made through /budget/new likewise."""
    gw = aliased_gateway
    _, free = user_token(idp)
    raw = openai_client(gw, free).chat.completions.with_raw_response.create(
        model="gpt", messages=HELLO, max_tokens=5
    )
    answer = raw.parse()
    assert upstream.requests[-1].body["model"] == "gpt-4.1-nano"
    assert raw.headers["x-bastion-route"] == "plan:free"
    assert raw.headers["x-bastion-model-group"] == "gpt-mini"
    assert raw.headers["x-ratelimit-limit-requests"] == "50"  # the plan's limits still apply
    assert answer.model == "gpt-4.1-nano"
    record = gw.next_record()
    assert (record.model_group, record.routed_from, record.route_rule) == ("gpt-mini", "gpt", "plan:free")
    assert record.plan == "free"
    row = spend_row(record)
    assert row["model_group"] == "gpt-mini" and row["metadata"]["route"] == "plan:free"
    assert row["metadata"]["routed_from"] == "gpt"

    anthropic_client(gw, free).messages.create(model="claude", messages=HELLO, max_tokens=5)
    assert upstream.requests[-1].body["model"] == "claude-haiku-4-5"
    assert gw.next_record().model_group == "claude-haiku"

    _, pro = user_token(idp, plan="pro")
    openai_client(gw, pro).chat.completions.create(model="gpt", messages=HELLO, max_tokens=5)
    assert upstream.requests[-1].body["model"] == "gpt-4.1-mini"
    pro_record = gw.next_record()
    assert (pro_record.model_group, pro_record.route_rule) == ("gpt", None)

    # Through the API: a plan with aliases, a key on it (metadata.plan).
    made = post(gw, "/budget/new", {"budget_id": "starter", "model_aliases": {"claude": "claude-haiku"}})
    assert made["model_aliases"] == {"claude": "claude-haiku"}
    key = post(gw, "/key/generate", {"metadata": {"plan": "starter"}})["key"]
    openai_client(gw, key).chat.completions.create(model="claude", messages=HELLO, max_tokens=5)
    assert upstream.requests[-1].body["model"] == "claude-haiku-4-5"
    keyed = gw.next_record()
    assert (keyed.model_group, keyed.routed_from, keyed.route_rule) == (
        "claude-haiku",
        "claude",
        "plan:starter",
    )
    with pytest.raises(urllib.error.HTTPError) as bad:
        post(gw, "/budget/update", {"budget_id": "starter", "model_aliases": {"claude": 3}})
    assert bad.value.code == 400 and b"model_aliases" in bad.value.read()


def docs_flow_config() -> str:
    """The config of docs/plans.md's "The whole flow" section, as printed."""
    text = (ROOT / "docs" / "plans.md").read_text(encoding="utf-8")
    section = text[text.index("## The whole flow") :]
    found = re.search(r"^```yaml\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    assert found is not None and "model_list" in found.group(1)
    return found.group(1)


def test_the_docs_cloud_code_flow_runs_as_printed(
    upstream: MockUpstream, idp: SigningKey, tmp_path: Path
) -> None:
    """docs/plans.md's flow with its config as printed; only what lies outside this machine is
    pointed here: the provider (the mock upstream) and the identity provider's keys (inline JWKS for
    its jwks_url). A signed-in user without a plan claim is on free: their claude-sonnet is served by
    claude-haiku, and the call that would overrun the quota gets the documented 429 and sentence; a
    token with plan: pro gets claude-sonnet."""
    config = docs_flow_config()
    jwks_line = "    jwks_url: https://your-tenant.example.com/.well-known/jwks.json\n"
    assert jwks_line in config and config.count("      model: anthropic/") == 2
    jwks = orjson.dumps({"keys": [idp.public_jwk()]}).decode()
    config = config.replace(jwks_line, f"    jwks: '{jwks}'\n")
    config = re.sub(
        r"^(      model: anthropic/.*\n)",
        rf"\g<1>      api_base: {upstream.url}\n",
        config,
        flags=re.MULTILINE,
    )
    (tmp_path / "bastion.yaml").write_text(config)
    environ = {"BASTION_MASTER_KEY": MASTER_KEY, "ANTHROPIC_API_KEY": UPSTREAM_KEY}
    settings = load_settings(tmp_path / "bastion.yaml", environ=environ)
    issuer = {"iss": "https://your-tenant.example.com/", "aud": "bastion"}

    def token(user: str, **extra: Any) -> str:
        now = int(time.time())
        return idp.sign({**issuer, "sub": user, "iat": now, "exp": now + 300, **extra})

    with RunningGateway(settings) as gw:
        free = anthropic_client(gw, token("github|1001"))
        answer = free.messages.create(model="claude-sonnet", max_tokens=20, messages=HELLO)
        assert upstream.requests[-1].body["model"] == "claude-haiku-4-5"
        assert answer.model == "claude-haiku-4-5"
        pro = anthropic_client(gw, token("github|4211", plan="pro"))
        pro.messages.create(model="claude-sonnet", max_tokens=20, messages=HELLO)
        assert upstream.requests[-1].body["model"] == "claude-sonnet-4-5-20250929"

        sent = len(upstream.requests)
        with pytest.raises(openai.RateLimitError) as refused:
            openai_client(gw, token("github|1001")).chat.completions.create(
                model="claude-sonnet", messages=HELLO, max_tokens=150_000
            )
        assert len(upstream.requests) == sent  # refused before any provider is called
        now = datetime.now(UTC)
        month = now.strftime("%B")
        renews = (now.replace(day=1) + timedelta(days=32)).strftime("%B")
        body: Any = refused.value.body
        assert body["message"].startswith(
            f"Your free plan's 100,000 tokens for {month} are used. They renew on 1 {renews}, "
            "or upgrade for more."
        )
        assert (body["type"], body["code"]) == ("rate_limit_error", "plan_quota_exceeded")
        assert int(refused.value.response.headers["retry-after"]) > 0
