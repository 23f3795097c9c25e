"""Checks of a loaded configuration that find what would only fail later, on a call.

The loader refuses what is wrong; these find what is allowed but probably a mistake, and say so as
warnings (``bastion check-config`` prints them, ``bastion serve`` logs them at start-up).
"""

from __future__ import annotations

from bastion.settings._providers import PROVIDERS
from bastion.settings.model import Settings

__all__ = ["deployments_without_credentials"]

_AUTH_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "x-goog-api-key"})


def deployments_without_credentials(settings: Settings) -> list[str]:
    """Deployments of a hosted provider with no key anywhere: no ``api_key``, no key header, and
    none of the provider's key variables set when the config was loaded.

    Only the provider's own service is checked (its default ``api_base``, or Azure, which always
    needs one): a server of your own behind ``api_base`` may well take calls without a key.
    """
    found: list[str] = []
    for index, dep in enumerate(settings.model_list):
        alias = PROVIDERS.get(dep.provider_alias)
        if alias is None or not alias.key_variables or dep.api_key is not None:
            continue
        if alias.name != "azure" and dep.api_base != alias.api_base:
            continue
        if _AUTH_HEADERS & {name.lower() for name in dep.extra_headers}:
            continue
        variables = " or ".join(alias.key_variables)
        found.append(
            f"{settings.source}: model_list[{index}] ({dep.model_name}, {dep.provider_alias}/{dep.model}) "
            f"has no api_key and {variables} is not set: its calls will fail unless callers bring "
            "their own provider key or a system key is stored (/v2/admin/llm-keys/)"
        )
    return found
