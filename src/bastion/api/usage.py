"""``GET /v1/usage/me``: an end user's plan, and the quota and budget left before they hit them.

Called with the end user's own credential (their identity provider's token, a browser token), or by
the app on their behalf with its key and ``?user=<end user id>`` (a customer of ``/customer/new``).
One read of the limits store per counter; nothing on the request path.
"""

from __future__ import annotations

from bastion.api.asgi import Request, Send, send_json
from bastion.domain.errors import InvalidRequestError, NotFoundError
from bastion.gateway.admission import Gatekeeper

__all__ = ["usage_me"]


async def usage_me(gatekeeper: Gatekeeper | None, request: Request, send: Send) -> None:
    principal = request.caller
    user = None
    if principal.end_user is None:
        user = request.query.get("user", "").strip() or None
    if gatekeeper is None or gatekeeper.plans is None:
        raise NotFoundError("This gateway has no plans.", code="no_plans")
    found = await gatekeeper.plans.usage(principal, user)
    if found["plan"] is None and principal.end_user is None and user is None:
        raise InvalidRequestError(
            "This key is on no plan and is not an end user's: pass ?user=<end user id> to read theirs.",
            param="user",
        )
    await send_json(send, 200, found)
