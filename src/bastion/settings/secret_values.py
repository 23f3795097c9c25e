"""Every secret a configuration holds, by value: what the log redactor and the response scrubber remove."""

from __future__ import annotations

from bastion.domain.secret import Secret
from bastion.settings.model import Settings

__all__ = ["secret_values"]


def secret_values(settings: Settings) -> list[str]:
    """Provider keys, the master and static keys, billing sink credentials and the account, browser
    and encryption secrets, revealed (for matching only: never log or send the result)."""
    found: list[Secret | None] = [d.api_key for d in settings.model_list]
    found.append(settings.master_key)
    found.extend(k.key for k in settings.bastion.static_keys)
    billing = settings.billing
    if billing is not None:
        found.append(billing.autumn.api_key if billing.autumn is not None else None)
        found.append(billing.stripe.api_key if billing.stripe is not None else None)
        found.append(billing.webhook.secret if billing.webhook is not None else None)
    accounts = settings.bastion.accounts
    found.extend((accounts.jwt_secret, accounts.first_superuser_password, *accounts.encryption_keys))
    browser = settings.bastion.browser
    if browser is not None:
        found.append(browser.token_secret)
    return [secret.reveal() for secret in found if secret is not None and secret.reveal()]
