"""``POST /api/token``: a backend holding a Bastion key mints a short-lived token for one page.

Body (all optional): ``models`` (model group names; default the minter's), ``max_budget`` (USD
the token may spend), ``ttl_seconds`` (default ``token_ttl_seconds``, at most
``token_max_ttl_seconds``) and ``user`` (the end user's id, for per-user limits and spend logs).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bastion.api.browser.admission import BodyRules
from bastion.auth.browser_tokens import BrowserTokens, check_user
from bastion.domain.errors import InvalidRequestError
from bastion.domain.principal import Principal
from bastion.settings import BrowserSettings

__all__ = ["TokenMint"]

#: Model names are checked against the endpoint's allowlist here; whether the minter may use them
#: is the token's rule (a 403 saying the minter may not), checked by BrowserTokens.mint.
_ANYONE = Principal("minting", "minting", "")
_FIELDS = frozenset({"models", "max_budget", "ttl_seconds", "user"})


class TokenMint:
    def __init__(self, settings: BrowserSettings, tokens: BrowserTokens, rules: BodyRules) -> None:
        self._settings = settings
        self._tokens = tokens
        self._rules = rules

    def mint(self, minter: Principal, body: dict[str, Any]) -> dict[str, Any]:
        """The token and what it allows, as the JSON answer."""
        unknown = sorted(set(body) - _FIELDS)
        if unknown:
            raise InvalidRequestError(
                f"Unknown field(s) {', '.join(unknown)}; a token request takes: {', '.join(sorted(_FIELDS))}."
            )
        models = body.get("models") or []
        if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
            raise InvalidRequestError("'models' must be a list of model names.", param="models")
        groups = [self._rules.group_for(_ANYONE, model) for model in models]
        if not groups and self._settings.models:
            groups = [g for g in self._settings.models if minter.may_use(g)]
        budget = body.get("max_budget")
        if budget is not None and (
            isinstance(budget, bool) or not isinstance(budget, int | float) or budget <= 0
        ):
            raise InvalidRequestError("'max_budget' must be a positive number of USD.", param="max_budget")
        ttl = body.get("ttl_seconds", self._settings.token_ttl_seconds)
        cap = self._settings.token_max_ttl_seconds
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or ttl <= 0:
            raise InvalidRequestError("'ttl_seconds' must be a positive number.", param="ttl_seconds")
        if ttl > cap:
            raise InvalidRequestError(
                f"'ttl_seconds' is {ttl:g}, above this gateway's cap of {cap:g} "
                "(bastion_settings.browser.token_max_ttl_seconds).",
                param="ttl_seconds",
            )
        try:
            user = check_user(body.get("user"))
        except ValueError as exc:
            raise InvalidRequestError(str(exc), param="user") from None
        token, claims = self._tokens.mint(
            minter,
            models=groups,
            budget=None if budget is None else float(budget),
            ttl_seconds=float(ttl),
            user=user,
        )
        return {
            "token": token,
            "token_type": "browser",
            "expires_at": datetime.fromtimestamp(claims.expires_at, UTC).isoformat(),
            "expires_in": max(claims.expires_at - claims.issued_at, 0),
            "models": list(claims.models),
            "max_budget": claims.budget,
            "user": claims.user,
        }
