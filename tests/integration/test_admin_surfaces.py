"""The management API, the dashboard's forms and the CLI accept and refuse exactly the same input.

One table of inputs, each written as the API's JSON and as the text a form field or an option
carries, runs against ``POST /key/generate`` and ``POST /team/new``, the dashboard's create forms
and ``bastion keys create`` / ``bastion teams create`` on one gateway and its database. Each input
is accepted by all three, or refused by all three with the same message.

The CLI used to differ: ``--budget-duration 30days`` was stored (and every call with the key then
failed with 400), an unknown ``--team`` was created on the fly, and the team's models were not
checked.
"""

from __future__ import annotations

import html
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest

from bastion.auth.keys import hash_key
from bastion.cli import main
from bastion.testing.gateway import RunningGateway
from support import MASTER_KEY
from support.dashboard import Browser

TEAM = "org-surfaces"


@dataclass(frozen=True)
class Case:
    """One input: as JSON (the API) and as text (a form, an option); ``accepted`` or refused.

    ``{surface}`` in a value becomes the surface's name, so accepted inputs stay unique."""

    name: str
    json: dict[str, Any]
    text: dict[str, str]
    accepted: bool
    #: Whether the CLI can carry it at all (a NUL cannot be in a command-line argument).
    cli: bool = True
    checks: dict[str, Any] = field(default_factory=dict)


KEY_CASES = [
    Case("alias only", {"key_alias": "k-{surface}"}, {"key_alias": "k-{surface}"}, True),
    Case(
        "every field",
        {
            "key_alias": "all-{surface}",
            "team_id": TEAM,
            "user_id": "session-1",
            "duration": "24h",
            "models": ["mock"],
            "max_budget": 2.5,
            "budget_duration": "30d",
            "rpm_limit": 10,
            "tpm_limit": 1000,
            "max_parallel_requests": 2,
        },
        {
            "key_alias": "all-{surface}",
            "team_id": TEAM,
            "user_id": "session-1",
            "duration": "24h",
            "models": "mock",
            "max_budget": "2.5",
            "budget_duration": "30d",
            "rpm_limit": "10",
            "tpm_limit": "1000",
            "max_parallel_requests": "2",
        },
        True,
        checks={"models": ("mock",), "max_budget": 2.5, "budget_duration": "30d", "rpm_limit": 10},
    ),
    Case("budget period 30days", {"budget_duration": "30days"}, {"budget_duration": "30days"}, False),
    Case("unknown team", {"team_id": "no-such-team"}, {"team_id": "no-such-team"}, False),
    Case(
        "model outside the team",
        {"team_id": TEAM, "models": ["gpt"]},
        {"team_id": TEAM, "models": "gpt"},
        False,
    ),
    Case("rpm beyond 64 bits", {"rpm_limit": 2**63}, {"rpm_limit": str(2**63)}, False),
    Case("rpm beyond 32 bits", {"rpm_limit": 2**31}, {"rpm_limit": str(2**31)}, False),
    Case("rpm a fraction", {"rpm_limit": 10.5}, {"rpm_limit": "10.5"}, False),
    Case("rpm not a number", {"tpm_limit": "ten"}, {"tpm_limit": "ten"}, False),
    Case("negative budget", {"max_budget": -1}, {"max_budget": "-1"}, False),
    Case("budget 1e308", {"max_budget": 1e308}, {"max_budget": "1e308"}, False),
    Case("expiry not a duration", {"duration": "soon"}, {"duration": "soon"}, False),
    Case("expiry past the year 9999", {"duration": "99999999999d"}, {"duration": "99999999999d"}, False),
    Case("alias too long", {"key_alias": "x" * 256}, {"key_alias": "x" * 256}, False),
    Case("alias with NUL", {"key_alias": "a\u0000b"}, {"key_alias": "a\u0000b"}, False, cli=False),
]

TEAM_CASES = [
    Case("id only", {"team_id": "t-{surface}"}, {"team_id": "t-{surface}"}, True),
    Case(
        "every field",
        {
            "team_id": "all-{surface}",
            "team_alias": "All",
            "models": ["mock", "gpt"],
            "max_budget": 100,
            "budget_duration": "1mo",
            "rpm_limit": 60,
            "tpm_limit": 10000,
            "max_parallel_requests": 4,
        },
        {
            "team_id": "all-{surface}",
            "team_alias": "All",
            "models": "mock, gpt",
            "max_budget": "100",
            "budget_duration": "1mo",
            "rpm_limit": "60",
            "tpm_limit": "10000",
            "max_parallel_requests": "4",
        },
        True,
        checks={"models": ("mock", "gpt"), "max_budget": 100.0, "budget_duration": "1mo", "rpm_limit": 60},
    ),
    Case("budget period 30days", {"budget_duration": "30days"}, {"budget_duration": "30days"}, False),
    Case("tpm beyond 64 bits", {"tpm_limit": 2**63}, {"tpm_limit": str(2**63)}, False),
    Case("budget 1e308", {"max_budget": 1e308}, {"max_budget": "1e308"}, False),
    Case("id too long", {"team_id": "t" * 256}, {"team_id": "t" * 256}, False),
    Case("id with NUL", {"team_id": "t\u0000"}, {"team_id": "t\u0000"}, False, cli=False),
]

#: The CLI's option for each field.
OPTIONS = {
    "key_alias": "--alias",
    "team_alias": "--alias",
    "user_id": "--user",
    "duration": "--duration",
    "models": "--models",
    "max_budget": "--max-budget",
    "budget_duration": "--budget-duration",
    "rpm_limit": "--rpm",
    "tpm_limit": "--tpm",
    "max_parallel_requests": "--max-parallel",
}


@dataclass
class Outcome:
    accepted: bool
    #: The refusal's message (accepted: what was made, a key's hash or a team's id).
    detail: str


def _fill(values: dict[str, Any], surface: str) -> dict[str, Any]:
    return {k: v.replace("{surface}", surface) if isinstance(v, str) else v for k, v in values.items()}


class Surfaces:
    """The three ways in, on one gateway and its database."""

    def __init__(self, gateway: RunningGateway, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.gateway = gateway
        self.config = config
        self.capsys = capsys
        self.browser = Browser(gateway.url)
        answer = self.browser.log_in(master_key=MASTER_KEY)
        assert answer.status == 303, answer.text

    def api(self, path: str, body: dict[str, Any]) -> Outcome:
        request = urllib.request.Request(
            self.gateway.url + path,
            data=orjson.dumps(body),
            headers={"authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                made = orjson.loads(resp.read())
        except urllib.error.HTTPError as err:
            assert err.code == 400, err.read()
            return Outcome(False, orjson.loads(err.read())["error"]["message"])
        return Outcome(True, made.get("token") or made["team_id"])

    def form(self, path: str, list_path: str, fields: dict[str, str]) -> Outcome:
        csrf = self.browser.get(list_path).csrf
        page = self.browser.post(path, {"csrf_token": csrf, **fields})
        error = re.search(r'<div class="error" id="error">(.*?)</div>', page.text, re.S)
        if error is not None:
            assert page.status == 400, page.text
            return Outcome(False, html.unescape(error.group(1)))
        assert page.status in (200, 303), page.text
        made = re.search(r'id="new-key-value">(sk-[^<]+)<', page.text)
        return Outcome(True, hash_key(made.group(1)) if made else fields.get("team_id", ""))

    def cli(self, noun: str, fields: dict[str, str]) -> Outcome:
        argv = [noun, "create", "--config", str(self.config)]
        for name, value in fields.items():
            option = "--team" if name == "team_id" and noun == "keys" else OPTIONS.get(name, "--id")
            argv += [option, value]
        self.capsys.readouterr()
        code = main(argv)
        out, err = self.capsys.readouterr()
        if code != 0:
            assert code == 2 and err.startswith("bastion: "), err
            return Outcome(False, err.removeprefix("bastion: ").strip())
        made = orjson.loads(out)
        return Outcome(True, made.get("token") or made["team_id"])


@pytest.fixture
def surfaces(
    start_gateway: Callable[..., RunningGateway], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> Surfaces:
    gateway = start_gateway(
        {
            "model_list": [
                {"model_name": "mock", "litellm_params": {"model": "mock/echo"}},
                {"model_name": "gpt", "litellm_params": {"model": "mock/echo"}},
            ]
        }
    )
    found = Surfaces(gateway, tmp_path / "config.yaml", capsys)
    assert found.api("/team/new", {"team_id": TEAM, "models": ["mock"]}).accepted
    return found


def _check_all(outcomes: dict[str, Outcome], case: Case) -> None:
    summary = {surface: (o.accepted, o.detail if not o.accepted else "") for surface, o in outcomes.items()}
    if case.accepted:
        assert all(o.accepted for o in outcomes.values()), f"{case.name}: {summary}"
    else:
        messages = {o.detail for o in outcomes.values()}
        assert not any(o.accepted for o in outcomes.values()), f"{case.name}: {summary}"
        assert len(messages) == 1, f"{case.name}: the surfaces refuse differently: {summary}"


def test_key_creation_accepts_and_refuses_the_same_everywhere(surfaces: Surfaces) -> None:
    """Each key input: made by all of the API, the dashboard and the CLI, or refused by all three
    with one message; what they make is the same key."""
    database = surfaces.gateway.app.database  # type: ignore[union-attr]
    for case in KEY_CASES:
        outcomes = {
            "api": surfaces.api("/key/generate", _fill(case.json, "api")),
            "dashboard": surfaces.form("/ui/keys/create", "/ui/keys", _fill(case.text, "dashboard")),
        }
        if case.cli:
            outcomes["cli"] = surfaces.cli("keys", _fill(case.text, "cli"))
        _check_all(outcomes, case)
        for outcome in outcomes.values():
            if outcome.accepted and case.checks:
                record = surfaces.gateway.call(database.keys.get(outcome.detail))
                assert record is not None and record.team_id == TEAM and record.expires is not None
                assert {name: getattr(record, name) for name in case.checks} == case.checks
    made = surfaces.gateway.call(database.keys.list_keys(size=100))
    assert made.total_count == 2 * 3  # the accepted inputs, once per surface; nothing refused was stored


def test_team_creation_accepts_and_refuses_the_same_everywhere(surfaces: Surfaces) -> None:
    """Each team input: made by all of ``/team/new``, the dashboard's form and ``bastion teams
    create``, or refused by all three with one message."""
    database = surfaces.gateway.app.database  # type: ignore[union-attr]
    for case in TEAM_CASES:
        outcomes = {
            "api": surfaces.api("/team/new", _fill(case.json, "api")),
            "dashboard": surfaces.form("/ui/teams/create", "/ui/teams", _fill(case.text, "dashboard")),
        }
        if case.cli:
            outcomes["cli"] = surfaces.cli("teams", _fill(case.text, "cli"))
        _check_all(outcomes, case)
        for outcome in outcomes.values():
            if outcome.accepted and case.checks:
                record = surfaces.gateway.call(database.teams.get(outcome.detail))
                assert record is not None and record.team_alias == "All"
                assert {name: getattr(record, name) for name in case.checks} == case.checks
    made = surfaces.gateway.call(database.teams.list_teams(size=100))
    assert made.total_count == 1 + 2 * 3  # the fixture's team, then the accepted inputs


def test_the_cli_no_longer_makes_keys_the_api_refuses(surfaces: Surfaces) -> None:
    """The reported CLI bugs: ``--budget-duration 30days``, an unknown ``--team`` (which it created)
    and a model outside the team's list each exit 2 with the API's message, storing nothing."""
    database = surfaces.gateway.app.database  # type: ignore[union-attr]
    for fields in (
        {"budget_duration": "30days"},
        {"team_id": "created-on-the-fly"},
        {"team_id": TEAM, "models": "gpt"},
    ):
        assert not surfaces.cli("keys", fields).accepted
    assert surfaces.gateway.call(database.keys.list_keys()).total_count == 0
    assert surfaces.gateway.call(database.teams.get("created-on-the-fly")) is None
