"""Model discovery for people: which model groups a user can call now, with prices.

A model's ``id`` is a UUID derived from its group name, stable across restarts and processes;
chat requests may name a model by that id or by its group name. A group is *active* for a user
when at least one of its deployments has a key to call it with (the user's own, the stored system
key, or the config's; see :mod:`bastion.gateway.credentials`), and the user's ``models`` allow it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from bastion.accounting.pricing import PriceBook
from bastion.domain.errors import NotFoundError, PermissionDeniedError
from bastion.domain.secret import Secret
from bastion.gateway.credentials import CredentialChooser, account_provider
from bastion.settings import Deployment, Settings
from bastion.store import UserRecord

__all__ = ["CatalogModel", "ModelCatalog", "model_id"]

_NAMESPACE = uuid.UUID("6f1f5b8e-3c52-4d0b-9a41-6a2c0b7e5d10")
_PER_MILLION = 1_000_000


def model_id(group: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, group))


@dataclass(frozen=True, slots=True)
class CatalogModel:
    id: str
    name: str
    display_name: str
    provider: str
    context_window: int | None
    input_price_per_million: float | None
    output_price_per_million: float | None
    is_active: bool


class ModelCatalog:
    def __init__(self, settings: Settings, prices: PriceBook, credentials: CredentialChooser) -> None:
        # Wildcard groups (``openai/*``) name no model a person can pick.
        self._groups = {name: deps for name, deps in settings.model_groups.items() if "*" not in name}
        self._by_id = {model_id(name): name for name in self._groups}
        self._prices = prices
        self._credentials = credentials

    def resolve(self, user: UserRecord, value: object) -> str:
        """The group named by a model id (or group name) that ``user`` may use."""
        if not isinstance(value, str) or not value:
            raise NotFoundError("Give 'model_id': an id from GET /v2/llm-models/.", param="model_id")
        group = self._by_id.get(value) or (value if value in self._groups else None)
        if group is None:
            raise NotFoundError(
                f"There is no model '{value}'; list them with GET /v2/llm-models/.",
                param="model_id",
                code="model_not_found",
            )
        if user.models and group not in user.models:
            raise PermissionDeniedError(f"Your account may not use model '{group}'.", param="model_id")
        return group

    def models_for(self, user: UserRecord, user_keys: Mapping[str, Secret]) -> list[CatalogModel]:
        found = []
        for group, deployments in self._groups.items():
            allowed = not user.models or group in user.models
            active = allowed and any(self._credentials.available(d, user_keys) for d in deployments)
            found.append(self._describe(group, deployments[0], active))
        return found

    def _describe(self, group: str, dep: Deployment, active: bool) -> CatalogModel:
        info = dep.model_info
        facts = self._prices.facts(dep.provider_alias, info.base_model or dep.model)
        price = self._prices.price_of(dep)  # the price calls are charged at, from one function
        display = info.extra.get("display_name")
        return CatalogModel(
            id=model_id(group),
            name=group,
            display_name=display if isinstance(display, str) else (facts.name or group),
            provider=account_provider(dep) or dep.provider_alias,
            context_window=info.max_input_tokens or facts.context_window,
            input_price_per_million=None if price is None else _per_million(price.input),
            output_price_per_million=None if price is None else _per_million(price.output),
            is_active=active,
        )


def _per_million(rate: float) -> float:
    return round(rate * _PER_MILLION, 6)
