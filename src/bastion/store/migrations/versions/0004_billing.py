"""Billing: a mark on each spend log the billing worker has seen, and the billing events outbox.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23

``spend_logs.billing`` is NULL until the billing worker has turned the row into a billing event
("billed") or decided not to ("skip:<reason>"); a partial index keeps the unseen rows cheap to find.
Rows logged before this migration are unseen too: the first billing run considers them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

_ID = 255
_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
_MONEY = sa.Numeric(18, 10)
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("spend_logs") as batch:
        batch.add_column(sa.Column("billing", sa.String(32), nullable=True))
    op.create_index(
        "ix_spend_logs_unbilled",
        "spend_logs",
        ["start_time", "request_id"],
        postgresql_where=sa.text("billing IS NULL"),
        sqlite_where=sa.text("billing IS NULL"),
    )
    op.create_table(
        "billing_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True),
        sa.Column("idempotency_key", sa.String(100), nullable=False),
        sa.Column("request_id", sa.String(_ID), nullable=False),
        sa.Column("team_id", sa.String(_ID), nullable=False),
        sa.Column("user", sa.String(_ID), nullable=True),
        sa.Column("end_user", sa.String(_ID), nullable=True),
        sa.Column("model_group", sa.String(_ID), nullable=True),
        sa.Column("model", sa.String(_ID), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cache_read_tokens", sa.Integer(), nullable=False),
        sa.Column("cache_write_tokens", sa.Integer(), nullable=False),
        sa.Column("total_tokens", sa.Integer(), nullable=False),
        sa.Column("cost", _MONEY, nullable=False),
        sa.Column("markup", _MONEY, nullable=False),
        sa.Column("amount", _MONEY, nullable=False),
        sa.Column("occurred_at", _TIME, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", _TIME, nullable=False),
        sa.Column("lease_owner", sa.String(64), nullable=True),
        sa.Column("lease_until", _TIME, nullable=True),
        sa.Column("delivered_sinks", _JSON, nullable=False),
        sa.Column("last_error", sa.String(1000), nullable=True),
        sa.Column("delivered_at", _TIME, nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_billing_events"),
        sa.UniqueConstraint("idempotency_key", name="uq_billing_events_idempotency_key"),
        sa.UniqueConstraint("request_id", name="uq_billing_events_request_id"),
    )
    op.create_index(
        "ix_billing_events_status_next_attempt_at", "billing_events", ["status", "next_attempt_at"]
    )
    op.create_index("ix_billing_events_team_id_occurred_at", "billing_events", ["team_id", "occurred_at"])
    op.create_index("ix_billing_events_occurred_at", "billing_events", ["occurred_at"])


def downgrade() -> None:
    op.drop_table("billing_events")
    op.drop_index("ix_spend_logs_unbilled", table_name="spend_logs")
    with op.batch_alter_table("spend_logs") as batch:
        batch.drop_column("billing")
