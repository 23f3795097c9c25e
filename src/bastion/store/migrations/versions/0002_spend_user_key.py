"""Spend logs say whether the caller's own provider key paid (bring-your-own-key).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Such requests are recorded like any other but never billed by the operator.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("spend_logs") as batch:
        batch.add_column(sa.Column("user_key", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("spend_logs") as batch:
        batch.drop_column("user_key")
