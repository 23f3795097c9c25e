"""The database layer: schema, engine, migrations and repositories (SQLAlchemy Core + Alembic).

SQLite (WAL) by default, PostgreSQL when ``database_url`` says so. Everything above this package
sees frozen records (:mod:`bastion.store.records`) and Bastion errors, never SQLAlchemy objects.
Nothing on the request path should call it: keys are served from a cache, spend is written in
batches by a background task.
"""

from __future__ import annotations

# First, before any SQLAlchemy asyncio import: the engine without the ORM (see _core_only).
import bastion.store._core_only  # noqa: F401
from bastion.store.conversations import ConversationRepository
from bastion.store.database import Database
from bastion.store.engine import create_store_engine, ping
from bastion.store.errors import AlreadyExistsError, StoreUnavailableError
from bastion.store.keys import KEY_UPDATABLE_FIELDS, KeyRepository
from bastion.store.migrate import apply_migrations, current_revision, head_revision, migrate
from bastion.store.provider_keys import ProviderKeyRepository
from bastion.store.records import (
    ConversationRecord,
    DailyUsage,
    EndUserRecord,
    KeyRecord,
    MessageRecord,
    Page,
    PlanRecord,
    SealedKeyRecord,
    SpendLogRecord,
    SpendTotals,
    TeamRecord,
    UserRecord,
)
from bastion.store.spend import SpendFilter, SpendRepository
from bastion.store.teams import TEAM_UPDATABLE_FIELDS, TeamRepository
from bastion.store.users import USER_UPDATABLE_FIELDS, UserRepository

__all__ = [
    "KEY_UPDATABLE_FIELDS",
    "TEAM_UPDATABLE_FIELDS",
    "USER_UPDATABLE_FIELDS",
    "AlreadyExistsError",
    "ConversationRecord",
    "ConversationRepository",
    "DailyUsage",
    "Database",
    "EndUserRecord",
    "KeyRecord",
    "KeyRepository",
    "MessageRecord",
    "Page",
    "PlanRecord",
    "ProviderKeyRepository",
    "SealedKeyRecord",
    "SpendFilter",
    "SpendLogRecord",
    "SpendRepository",
    "SpendTotals",
    "StoreUnavailableError",
    "TeamRecord",
    "TeamRepository",
    "UserRecord",
    "UserRepository",
    "apply_migrations",
    "create_store_engine",
    "current_revision",
    "head_revision",
    "migrate",
    "ping",
]
