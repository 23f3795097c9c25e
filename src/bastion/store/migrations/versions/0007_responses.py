"""The Responses API's stored responses (``store: true``).

Revision ID: 0007_responses
Revises: 0006_plans
Create Date: 2026-12-07

One row per stored response: who may read it (``owner``), the response object and its whole
input as JSON text, and when it expires (``bastion_settings.response_retention_days``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0007_responses"
down_revision: str | None = "0006_plans"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "responses",
        sa.Column("response_id", sa.String(255), nullable=False),
        sa.Column("owner", sa.String(255), nullable=False),
        sa.Column("model", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("input", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("response_id", name=op.f("pk_responses")),
    )
    op.create_index(op.f("ix_responses_owner"), "responses", ["owner"])
    op.create_index(op.f("ix_responses_expires_at"), "responses", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_responses_expires_at"), table_name="responses")
    op.drop_index(op.f("ix_responses_owner"), table_name="responses")
    op.drop_table("responses")
