"""Errors of the store layer, in the :class:`~bastion.domain.errors.BastionError` tree.

Database driver errors (SQLAlchemy, asyncpg, sqlite3) never leave ``bastion.store``: they are mapped
here at the boundary, so callers handle two outcomes only: the database is unavailable (retry
later, keep spend in the journal), or a write conflicts with a row that already exists.
"""

from __future__ import annotations

from bastion.domain.errors import BastionError, InvalidRequestError

__all__ = ["AlreadyExistsError", "StoreUnavailableError"]


class StoreUnavailableError(BastionError):
    """The database cannot be reached or is not answering; the same call may succeed later."""

    status = 503
    kind = "overloaded"
    retryable = True
    #: The driver's own description (which host, what failed), for logs; clients get ``message``.
    detail: str = ""


class AlreadyExistsError(InvalidRequestError):
    """A row with the same identity or unique field exists (LiteLLM answers these with 400).

    ``param`` names the field that clashed, e.g. ``key_alias`` or ``team_id``.
    """
