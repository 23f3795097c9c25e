"""/metrics after a scripted mix: every counter the operator's questions rest on, with its exact value.

The mix: a success, the same prompt again from the response cache, a retried 500, two 500s that
push the request to its fallback group, an upstream timeout then a success, an unknown model, an
upstream 400, a request over its key's rpm and one over its key's budget. Virtual keys belong to
teams, so tokens and cost appear by team.
"""

from __future__ import annotations

import re
import urllib.request
from collections.abc import Callable

import openai
import pytest
from test_sdk_passthrough import openai_client
from test_virtual_keys import make_key

from bastion.testing.gateway import RunningGateway
from bastion.testing.upstream import Fault, MockUpstream
from support import MASTER_KEY, UPSTREAM_KEY, standard_models


def scrape(gw: RunningGateway) -> dict[str, float]:
    """Every sample of /metrics as ``name{labels}`` to value (labels as the exposition sorts them)."""
    with urllib.request.urlopen(gw.url + "/metrics") as resp:
        text = resp.read().decode()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def ask(client: openai.OpenAI, model: str, prompt: str) -> None:
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": prompt}], max_tokens=2)


def test_metrics_after_a_scripted_mix(
    start_gateway: Callable[..., RunningGateway], upstream: MockUpstream
) -> None:
    gw = start_gateway(
        {
            "model_list": standard_models(upstream.url),
            "router_settings": {
                "num_retries": 1,
                "timeout": 0.5,
                "disable_cooldowns": True,
                "fallbacks": [{"gpt": ["claude"]}],
            },
            "litellm_settings": {"cache": True, "cache_params": {"type": "local"}},
        }
    )
    team_a = openai_client(gw, make_key(gw, team_id="team-a"))
    limited = openai_client(gw, make_key(gw, team_id="team-b", rpm_limit=1))
    poor = openai_client(gw, make_key(gw, max_budget=1e-9))

    ask(team_a, "gpt", "one")  # success, a cache miss
    ask(team_a, "gpt", "one")  # the same prompt: a cache hit, no upstream call
    upstream.script(Fault(status=500, retry_after=0.01))
    ask(team_a, "gpt", "two")  # a 500, then a retry that succeeds
    upstream.script(Fault(status=500, retry_after=0.01), Fault(status=500, retry_after=0.01))
    ask(team_a, "gpt", "three")  # both gpt tries fail: claude answers as the fallback
    upstream.script(Fault(delay=3.0))
    ask(team_a, "gemini", "four")  # a timeout, then a retry that succeeds
    with pytest.raises(openai.NotFoundError):
        ask(team_a, "missing", "five")
    upstream.script(Fault(status=400, message="bad request"))
    with pytest.raises(openai.BadRequestError):
        ask(team_a, "gpt", "six")  # an upstream 400: not retried, not fallen back from
    ask(limited, "claude", "seven")
    with pytest.raises(openai.RateLimitError):
        ask(limited, "claude", "eight")  # over rpm 1
    with pytest.raises(openai.BadRequestError):
        ask(poor, "claude", "nine")  # over budget before any call

    m = scrape(gw)
    ok = 'bastion_requests_total{{model_group="{}",provider="{}",status="{}",surface="openai"}}'
    assert m[ok.format("gpt", "openai", 200)] == 2  # "one" and the retried "two"
    assert m[ok.format("gpt", "cache", 200)] == 1
    assert m[ok.format("gpt", "anthropic", 200)] == 1  # "three", served by the fallback
    assert m[ok.format("gemini", "gemini", 200)] == 1
    assert m[ok.format("claude", "anthropic", 200)] == 1
    assert m[ok.format("gpt", "openai", 400)] == 1
    assert m[ok.format("none", "none", 404)] == 1
    assert m[ok.format("claude", "none", 429)] == 1
    assert m[ok.format("claude", "none", 400)] == 1
    assert sum(v for k, v in m.items() if k.startswith("bastion_requests_total")) == 10

    err = 'bastion_request_errors_total{{kind="{}",model_group="{}",surface="openai"}}'
    assert m[err.format("not_found", "none")] == 1
    assert m[err.format("invalid_request", "gpt")] == 1
    assert m[err.format("rate_limit", "claude")] == 1
    assert m[err.format("billing", "claude")] == 1

    assert m['bastion_retries_total{model_group="gpt"}'] == 2  # "two" and "three"
    assert m['bastion_retries_total{model_group="gemini"}'] == 1
    assert m['bastion_fallbacks_total{fallback_group="claude",model_group="gpt"}'] == 1
    assert m['bastion_upstream_timeouts_total{model_group="gemini"}'] == 1
    assert m['bastion_cache_lookups_total{model_group="gpt",result="hit"}'] == 1
    assert m['bastion_cache_lookups_total{model_group="gpt",result="miss"}'] == 4
    assert m['bastion_limit_refusals_total{reason="rpm",scope="key"}'] == 1
    assert m['bastion_limit_refusals_total{reason="budget",scope="key"}'] == 1
    attempts = 'bastion_upstream_attempts_total{{deployment="{}",model_group="{}",result="{}"}}'
    gpt_dep = next(k for k in m if k.startswith("bastion_upstream_attempts_total") and '"gpt"' in k)
    gpt_id = re.search(r'deployment="([^"]+)"', gpt_dep).group(1)  # type: ignore[union-attr]
    assert m[attempts.format(gpt_id, "gpt", "error")] == 4  # 500, 500, 500, 400
    assert m[attempts.format(gpt_id, "gpt", "ok")] == 2

    # Latency: one observation per request; tokens per request: one per answered request with usage.
    assert m['bastion_request_latency_seconds_count{model_group="gpt",stream="false"}'] == 5
    assert m['bastion_tokens_per_request_count{model_group="gpt"}'] == 4  # the cache hit reports usage too
    # Tokens and cost by team: team-a's answered gpt calls, 2 output tokens each.
    assert m['bastion_team_tokens_total{kind="output",model_group="gpt",team="team-a"}'] == 8
    assert m['bastion_team_tokens_total{kind="output",model_group="claude",team="team-b"}'] == 2
    assert m['bastion_team_cost_usd_total{model_group="claude",team="team-b"}'] > 0
    assert m['bastion_team_cost_usd_total{model_group="gpt",team="team-a"}'] > 0
    assert sum(v for k, v in m.items() if k.startswith("bastion_team_cost_usd_total")) == pytest.approx(
        sum(v for k, v in m.items() if k.startswith("bastion_cost_usd_total"))
    )
    text = "\n".join(m)
    assert "missing" not in text and MASTER_KEY not in text and UPSTREAM_KEY not in text
    assert "sk-" not in text  # no key of any kind is ever a label
