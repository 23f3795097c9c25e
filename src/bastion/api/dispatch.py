"""The HTTP side of the ASGI app: find the endpoint, admit, guard, run, and catch what escapes.

Every request goes through :meth:`Dispatcher.__call__`, in this order:

1. the path (a trailing slash dropped) and method are looked up in the :class:`EndpointTable`:
   a fixed path is one dict lookup; an unknown path is a 404 and a known path with another method
   a 405 with ``Allow``, each in the error format of the path's family;
2. overload control may refuse the call (503, ``retry-after``) before anything is read;
3. the endpoint's audience guard runs (unless the handler authenticates inline) and its answer
   becomes ``request.caller``;
4. the handler runs inside the one error boundary: a :class:`BastionError` it lets out is
   rendered in the endpoint's format, anything else is logged with a request id and answered 500.

Every byte of every answer (errors included) leaves through the :class:`Scrubber`, which removes
the configured secrets by value: the one place where secrets are kept from clients.
"""

from __future__ import annotations

import logging

import orjson

from bastion.api.asgi import Receive, Request, Scope, Send, send_bytes, unencodable
from bastion.api.endpoints import EndpointTable, Match, NotAllowed
from bastion.api.error_formats import LISTING_ERRORS, ErrorFormat
from bastion.api.overload import Overload
from bastion.domain.errors import BastionError, InternalError, MethodNotAllowedError, NotFoundError
from bastion.gateway.context import new_request_id
from bastion.secrets.scrubber import Scrubber

__all__ = ["Dispatcher"]

_log = logging.getLogger("bastion.api")


class Dispatcher:
    """An ASGI callable for ``http`` scopes over one endpoint table."""

    def __init__(
        self,
        table: EndpointTable,
        *,
        overload: Overload | None = None,
        scrubber: Scrubber | None = None,
        unknown: ErrorFormat = LISTING_ERRORS,
    ) -> None:
        self.table = table
        #: How a path no family of routes claims answers its 404 (the caller's surface's envelope).
        self._unknown = unknown
        self._fixed = table.fixed
        self._overload = overload
        self.scrubber = scrubber or Scrubber()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        send = self.scrubber.wrap(send)
        request = Request(scope, receive)
        path = request.path
        if len(path) > 1 and path[-1] == "/":
            path = request.path = path.rstrip("/") or "/"
        by_method = self._fixed.get(path)
        match = by_method.get(request.method) if by_method is not None else None
        if match is None:
            found = self.table.find(request.method, path)
            if not isinstance(found, Match):
                await self._no_route(request, send, found)
                return
            match = found
            request.params = found.params
        endpoint = match.endpoint
        overload = self._overload
        if overload is None or not endpoint.shed:
            await self._run(match, request, send)
            return
        refused = overload.try_enter(endpoint.tag)
        if refused is not None:
            await self._answer_error(endpoint.errors, request, send, refused, new_request_id())
            return
        try:
            await self._run(match, request, send)
        finally:
            overload.leave()

    async def _run(self, match: Match, request: Request, send: Send) -> None:
        endpoint = match.endpoint
        try:
            if match.guard is not None:
                request.caller = await match.guard(request)
            await endpoint.handler(request, send)
        except BastionError as err:
            await self._answer_error(endpoint.errors, request, send, err, new_request_id())
        except orjson.JSONEncodeError as exc:
            await self._answer_error(endpoint.errors, request, send, unencodable(exc), new_request_id())
        except Exception:
            request_id = new_request_id()
            # The template, not the path: a path can hold a key (/key/{key}/regenerate).
            _log.exception("%s failed unexpectedly; request id %s", endpoint.label, request_id)
            error = InternalError(f"Bastion failed while handling this request; request id {request_id}.")
            await self._answer_error(endpoint.errors, request, send, error, request_id)

    async def _no_route(self, request: Request, send: Send, found: NotAllowed | None) -> None:
        where = f"{request.method} {request.path}"
        if found is None:
            errors = self.table.family(request.path) or self._unknown
            err: BastionError = NotFoundError(f"There is no endpoint {where} on this gateway.")
        else:
            errors = found.errors
            allowed = ", ".join(found.allowed)
            err = MethodNotAllowedError(
                f"{request.path} does not take {request.method}; it takes {allowed}.", allowed=found.allowed
            )
        await self._answer_error(errors, request, send, err, new_request_id())

    @staticmethod
    async def _answer_error(
        errors: ErrorFormat, request: Request, send: Send, err: BastionError, request_id: str
    ) -> None:
        reply = errors.render(request, err, request_id)
        headers = list(reply.headers)
        if isinstance(err, MethodNotAllowedError):
            headers.append((b"allow", ", ".join(err.allowed).encode()))
        try:
            await send_bytes(send, reply.status, reply.body, content_type=reply.content_type, headers=headers)
        except Exception:
            # The handler had begun its answer (a stream): the status line is gone, so there
            # is nobody left to tell but the log.
            _log.warning("could not answer %s with %s: the response had begun", request.method, reply.status)
