"""The credit check against a fake Autumn: refusal, caching per org, and an unreachable provider."""

from __future__ import annotations

import asyncio

import pytest
from billing_harness import AUTUMN_KEY

from bastion.billing import BillingUnavailableError, CreditCheck, OutOfCreditError
from bastion.domain.principal import Principal
from bastion.domain.secret import Secret
from bastion.outbound.http import HttpPool
from bastion.settings.billing import AutumnSink, EntitlementSettings
from support.fake_billing import FakeBilling


def org(team: str | None) -> Principal:
    return Principal("virtual_key", "k", "h" * 64, team_id=team)


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def check(fake: FakeBilling, clock: Ticks, *, fail_open: bool = True) -> CreditCheck:
    autumn = AutumnSink(api_key=Secret(AUTUMN_KEY), api_url=fake.url + "/autumn", timeout=2.0)
    settings = EntitlementSettings(cache_seconds=10, fail_open=fail_open)
    return CreditCheck(autumn, settings, http=HttpPool(), clock=clock)


def test_out_of_credit_is_refused_and_answers_are_cached(fake: FakeBilling) -> None:
    """allowed=false raises a 402; a burst of one org costs one check; the cache expires."""
    fake.credit["broke"] = False
    clock = Ticks()

    async def scenario() -> None:
        credit = check(fake, clock)
        try:
            with pytest.raises(OutOfCreditError) as refused:
                await credit.check(org("broke"))
            assert refused.value.status == 402 and refused.value.kind == "billing"
            await asyncio.gather(*(credit.check(org("rich")) for _ in range(5)))
            await credit.check(org(None))  # no org: nothing to check
            await credit.check(Principal("master", "master", "m" * 64))
            fake.credit["broke"] = True
            with pytest.raises(OutOfCreditError):
                await credit.check(org("broke"))  # still cached
            clock.now = 11
            await credit.check(org("broke"))  # asked again: topped up
        finally:
            await credit.close()

    asyncio.run(scenario())
    assert [c["customer_id"] for c in fake.checks] == ["broke", "rich", "broke"]
    assert fake.checks[0]["feature_id"] == "llm_credits"


@pytest.mark.parametrize("fail_open", [True, False])
def test_an_unreachable_provider_admits_or_refuses_as_configured(fake: FakeBilling, fail_open: bool) -> None:
    fake.check_status = 503

    async def scenario() -> None:
        credit = check(fake, Ticks(), fail_open=fail_open)
        try:
            if fail_open:
                await credit.check(org("a"))
                await credit.check(org("a"))  # remembered: a down provider is not asked per call
            else:
                with pytest.raises(BillingUnavailableError):
                    await credit.check(org("a"))
        finally:
            await credit.close()

    asyncio.run(scenario())
    assert len(fake.checks) == 1
