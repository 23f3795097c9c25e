"""Which provider key a call uses: the caller's own, the system's stored one, or the config's.

The order for each deployment of the official providers (``anthropic/``, ``openai/``,
``gemini/`` in the config; ``anthropic``, ``openai`` and ``google`` to people):

1. the caller's own key for that provider (account users; ``user_keys: optional`` or ``required``),
2. the system key stored with ``/v2/admin/llm-keys`` (it takes precedence over the config),
3. the deployment's ``api_key`` from the config (or the provider's usual environment variable),
4. else, for account users, a clear error naming the provider.

With ``user_keys: required`` an account user's calls to those providers need the user's own key;
with ``disabled`` user keys are never used (the centralized model). Other deployments (vLLM,
Ollama, the mock ...) always use the config's key: a user's OpenAI key is never sent to a server
that is not OpenAI. Virtual-key and master-key callers get steps 2 and 3 only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from bastion.domain.errors import BastionError
from bastion.domain.secret import Secret
from bastion.secrets.scrubber import scrub_also
from bastion.settings import Deployment

__all__ = [
    "ACCOUNT_PROVIDERS",
    "CredentialChooser",
    "MissingProviderKeyError",
    "SystemKeys",
    "account_provider",
]

#: The providers people may bring keys for, by the config prefix that names them.
_BY_ALIAS = {"anthropic": "anthropic", "openai": "openai", "gemini": "google"}
ACCOUNT_PROVIDERS = ("anthropic", "openai", "google")


def account_provider(dep: Deployment) -> str | None:
    """``anthropic``, ``openai`` or ``google`` for a deployment of an official provider, else None."""
    return _BY_ALIAS.get(dep.provider_alias)


class MissingProviderKeyError(BastionError):
    status = 400
    kind = "invalid_request"

    def __init__(self, provider: str, *, required: bool) -> None:
        if required:
            message = (
                f"This gateway requires your own {provider} API key for {provider} models; "
                f"add it with PATCH /v2/users/me/api-key ({provider}_api_key)."
            )
        else:
            message = (
                f"No API key is configured for provider '{provider}': add your own with "
                f"PATCH /v2/users/me/api-key ({provider}_api_key), or ask an admin to set a system key."
            )
        super().__init__(message, code="no_provider_key", param="model_id")


class SystemKeys:
    """The system provider keys stored in the database, held in memory (no I/O on a call)."""

    def __init__(self) -> None:
        self._keys: dict[str, Secret] = {}

    def get(self, provider: str) -> Secret | None:
        return self._keys.get(provider)

    def replace_all(self, keys: Mapping[str, Secret]) -> None:
        self._keys = dict(keys)

    def values(self) -> list[str]:
        return [key.reveal() for key in self._keys.values()]


class CredentialChooser:
    def __init__(self, system: SystemKeys, *, user_keys: str = "optional") -> None:
        self.system = system
        self.mode = user_keys

    def available(self, dep: Deployment, user_keys: Mapping[str, Secret] | None) -> bool:
        """Whether an account user holding ``user_keys`` could call ``dep`` now."""
        try:
            self.choose(dep, user_keys)
        except MissingProviderKeyError:
            return False
        return True

    def choose(self, dep: Deployment, user_keys: Mapping[str, Secret] | None) -> tuple[Deployment, bool]:
        """``dep`` with the key to use, and whether it is the user's own.

        ``user_keys`` is ``None`` for callers who are not account users (no user key, no error)."""
        provider = account_provider(dep)
        if provider is None:
            return dep, False
        if user_keys is not None and self.mode != "disabled":
            own = user_keys.get(provider)
            if own:
                scrub_also(own.reveal())  # the response to this call must not carry it
                return replace(dep, api_key=own), True
            if self.mode == "required":
                raise MissingProviderKeyError(provider, required=True)
        system = self.system.get(provider)
        if system:
            scrub_also(system.reveal())
            return replace(dep, api_key=system), False
        if user_keys is not None and not dep.api_key:
            raise MissingProviderKeyError(provider, required=False)
        return dep, False
