"""What a browser may ask for: an allowed model, a capped ``max_tokens``, only the plain fields.

Pages run on machines we do not control, so the token-stream endpoints accept a narrow body: the
model, the messages and a few sampling fields of the provider shape the path names (the token-stream
protocol declares them: ``protocols/tokenstream/surface.py``). Anything else (tools, an upstream
URL, stream options, a spoofed end-user id) is refused by name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bastion.domain.errors import InvalidRequestError, ModelNotFoundError
from bastion.domain.principal import Principal
from bastion.gateway.router import Router
from bastion.protocols.tokenstream.surface import TokenStream
from bastion.settings import BrowserSettings

__all__ = ["BodyRules", "InvalidModelError"]


class InvalidModelError(InvalidRequestError):
    """A model outside the browser allowlist (or unknown): 400 ``Invalid model``, as the seed has it."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"Invalid model: {detail}", code="invalid_model", param="model")


class BodyRules:
    """Checks (and completes) one browser request body; returns the model group to serve."""

    def __init__(self, settings: BrowserSettings, router: Router, refused: Callable[[str], None]) -> None:
        self._allowed = frozenset(settings.models)
        self._cap = settings.max_tokens
        self._router = router
        self._refused = refused

    def group_for(self, principal: Principal, model: object) -> str:
        """The model group ``model`` names, if this endpoint and ``principal`` may use it."""
        if not isinstance(model, str) or not model:
            raise InvalidModelError("the request needs a 'model', one of: " + self.listing(principal))
        try:
            group = self._router.resolve(model)
        except ModelNotFoundError:
            raise InvalidModelError(
                f"'{model}' is not served here; use one of: {self.listing(principal)}."
            ) from None
        if (self._allowed and group not in self._allowed) or not principal.may_use(group):
            raise InvalidModelError(
                f"'{model}' is not allowed for this caller; use one of: {self.listing(principal)}."
            )
        return group

    def listing(self, principal: Principal) -> str:
        names = self._allowed or frozenset(self._router.names)
        if principal.models:
            names = names & principal.models
        return ", ".join(sorted(names)) or "none"

    def admitter(self, stream: TokenStream) -> Callable[[Principal, dict[str, Any]], str]:
        fields, limits = stream.fields, stream.max_tokens

        def admit(principal: Principal, body: dict[str, Any]) -> str:
            try:
                group = self.group_for(principal, body.get("model"))
            except InvalidModelError:
                self._refused("model")
                raise
            unknown = sorted(set(body) - fields)
            if unknown:
                self._refused("body")
                raise InvalidRequestError(
                    f"This endpoint does not accept {', '.join(repr(u) for u in unknown)}; "
                    f"it takes: {', '.join(sorted(fields))}."
                )
            messages = body.get("messages")
            if not isinstance(messages, list) or not messages:
                self._refused("body")
                raise InvalidRequestError("'messages' must be a non-empty list of {role, content} objects.")
            self._cap_tokens(body, limits)
            body["stream"] = True
            return group

        return admit

    def _cap_tokens(self, body: dict[str, Any], names: tuple[str, ...]) -> None:
        given = [name for name in names if body.get(name) is not None]
        for name in given:
            value = body[name]
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                self._refused("max_tokens")
                raise InvalidRequestError(f"'{name}' must be a positive whole number.", param=name)
            if value > self._cap:
                self._refused("max_tokens")
                raise InvalidRequestError(
                    f"'{name}' is {value}, above this endpoint's cap of {self._cap} "
                    "(bastion_settings.browser.max_tokens).",
                    param=name,
                )
        if not given:
            body["max_tokens"] = self._cap
