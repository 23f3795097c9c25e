"""Plans (LiteLLM's budget tiers), end users on them (LiteLLM's customers), and the plan of a spend log.

Revision ID: 0006_plans
Revises: 0005_admin_sessions
Create Date: 2026-12-07

``plans`` holds the plans made through ``/budget/new`` (those of ``bastion_settings.plans`` have no
row); ``end_users`` the customers of ``/customer/new`` with the plan each is on; ``spend_logs.plan``
the plan a request was admitted under (NULL before this migration and for callers on none).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_plans"
down_revision: str | None = "0005_admin_sessions"
branch_labels: str | None = None
depends_on: str | None = None

_ID = 255
_JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
_MONEY = sa.Numeric(18, 10)
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "plans",
        sa.Column("budget_id", sa.String(64), nullable=False),
        sa.Column("tpm_limit", sa.Integer(), nullable=True),
        sa.Column("rpm_limit", sa.Integer(), nullable=True),
        sa.Column("max_parallel_requests", sa.Integer(), nullable=True),
        sa.Column("max_budget", _MONEY, nullable=True),
        sa.Column("budget_duration", sa.String(32), nullable=True),
        sa.Column("max_tokens_per_period", sa.BigInteger(), nullable=True),
        sa.Column("quota_duration", sa.String(32), nullable=True),
        sa.Column("count_cache_reads", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("models", _JSON, nullable=False),
        sa.Column("model_aliases", _JSON, nullable=False),
        sa.Column("quota_message", sa.Text(), nullable=True),
        sa.Column("metadata", _JSON, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("budget_id", name=op.f("pk_plans")),
    )
    op.create_table(
        "end_users",
        sa.Column("user_id", sa.String(_ID), nullable=False),
        sa.Column("alias", sa.String(_ID), nullable=True),
        sa.Column("budget_id", sa.String(64), nullable=True),
        sa.Column("blocked", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("metadata", _JSON, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_end_users")),
    )
    op.create_index(op.f("ix_end_users_budget_id"), "end_users", ["budget_id"])
    with op.batch_alter_table("spend_logs") as batch:
        batch.add_column(sa.Column("plan", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("spend_logs") as batch:
        batch.drop_column("plan")
    op.drop_index(op.f("ix_end_users_budget_id"), table_name="end_users")
    op.drop_table("end_users")
    op.drop_table("plans")
