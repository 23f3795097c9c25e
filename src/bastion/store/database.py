"""The store as one object: an engine and the repositories over it, opened and closed together.

This is what the composition root holds::

    database = await Database.open(settings.database_url, default_path=data_dir / "bastion.db")
    ...
    await database.close()
"""

from __future__ import annotations

import os

from sqlalchemy.ext.asyncio.engine import AsyncEngine

from bastion.store._clock import Clock, utc_now
from bastion.store.billing import BillingRepository
from bastion.store.conversations import ConversationRepository
from bastion.store.end_users import EndUserRepository
from bastion.store.engine import create_store_engine, ping
from bastion.store.keys import KeyRepository
from bastion.store.migrate import apply_migrations
from bastion.store.plans import PlanRepository
from bastion.store.provider_keys import ProviderKeyRepository
from bastion.store.responses import ResponseRepository
from bastion.store.sessions import SessionRepository
from bastion.store.spend import SpendRepository
from bastion.store.teams import TeamRepository
from bastion.store.users import UserRepository

__all__ = ["Database"]


class Database:
    """An engine plus the repositories that share it: keys, teams, users, spend, billing, provider
    keys, conversations, logged-out dashboard sessions, plans, end users and stored Responses API
    responses."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.keys = KeyRepository(engine, clock=clock)
        self.teams = TeamRepository(engine, clock=clock)
        self.users = UserRepository(engine, clock=clock)
        self.spend = SpendRepository(engine)
        self.billing = BillingRepository(engine, clock=clock)
        self.provider_keys = ProviderKeyRepository(engine, clock=clock)
        self.conversations = ConversationRepository(engine, clock=clock)
        self.sessions = SessionRepository(engine, clock=clock)
        self.plans = PlanRepository(engine, clock=clock)
        self.end_users = EndUserRepository(engine, clock=clock)
        self.responses = ResponseRepository(engine, clock=clock)

    @classmethod
    async def open(
        cls,
        database_url: str | None,
        *,
        default_path: str | os.PathLike[str],
        migrate: bool = True,
        pool_size: int = 10,
        clock: Clock = utc_now,
    ) -> Database:
        """Create the engine and, unless ``migrate`` is false, bring the schema up to date.

        Raises :class:`~bastion.store.errors.StoreUnavailableError` if migrating needs the
        database and it cannot be reached.
        """
        engine = create_store_engine(database_url, default_path=default_path, pool_size=pool_size)
        try:
            if migrate:
                await apply_migrations(engine)
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine, clock=clock)

    async def ping(self) -> None:
        """Raise :class:`~bastion.store.errors.StoreUnavailableError` unless the database answers."""
        await ping(self.engine)

    async def close(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
