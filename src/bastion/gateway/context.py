"""The state of one client request as it moves through the pipeline."""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bastion.accounting.records import UsageRecord
from bastion.domain.principal import Principal
from bastion.domain.secret import Secret
from bastion.gateway.surfaces import Surface
from bastion.limits import Reservation, Ticket

if TYPE_CHECKING:
    from bastion.gateway.cache import CacheTicket
    from bastion.gateway.plans import Member

__all__ = ["CallContext", "new_request_id"]


def new_request_id() -> str:
    """A request's id (``req_`` and 24 hex digits), for logs, headers and the spend log's key."""
    # 96 random bits: unique enough for a primary key, and not a secret, so the process's
    # Mersenne Twister (reseeded in every forked worker) serves instead of a getrandom() call.
    return f"req_{random.getrandbits(96):024x}"


@dataclass(slots=True)
class CallContext:
    request_id: str
    surface: Surface
    principal: Principal
    headers: Mapping[str, str]
    record: UsageRecord
    t0: float = field(default_factory=time.perf_counter)
    recorded: bool = False
    #: The model name as the client wrote it (a wildcard group needs it to pick the upstream model).
    requested_model: str = ""
    #: The rate-limit admission and budget reservation to settle when the request ends.
    ticket: Ticket | None = None
    #: The plan the caller is on (see :mod:`bastion.gateway.plan_admission`) and the tokens held
    #: against its quota until the request ends.
    plan: Member | None = None
    quota: Reservation | None = None
    #: The caller's plan has been looked up (``plan`` is the answer, ``None`` included) and its
    #: model list checked against the group the caller asked for.
    plan_known: bool = False
    #: An account user's own provider keys (``anthropic``, ``openai``, ``google``); ``None`` for
    #: every other caller (see :mod:`bastion.gateway.credentials`).
    user_keys: Mapping[str, Secret] | None = None
    #: LiteLLM's ``cache`` request field (``no-cache``, ``no-store``, ``ttl``...), taken off the body.
    cache_control: dict[str, Any] | None = None
    #: The response cache's decision for this request (None: the cache stays out of it).
    cache: CacheTicket | None = None
    #: Headers the pipeline adds to the response (cache hit or miss, the route taken).
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    #: What the surface learnt from the request for the record: whether the answer streams and
    #: the end user it names. Only the pipeline writes the record (``ChatService.finish`` copies them).
    stream: bool = False
    end_user: str | None = None

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.t0) * 1000
