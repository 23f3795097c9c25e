"""Dashboard sessions that were logged out, so every process refuses their cookie.

Revision ID: 0005_admin_sessions
Revises: 0004
Create Date: 2026-12-01

The dashboard's session cookie is signed and stateless; logging out records the session here
(the SHA-256 of its nonce) until the cookie would have expired anyway.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision: str = "0005_admin_sessions"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "revoked_sessions",
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session_id", name=op.f("pk_revoked_sessions")),
    )
    op.create_index(op.f("ix_revoked_sessions_expires_at"), "revoked_sessions", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_revoked_sessions_expires_at"), table_name="revoked_sessions")
    op.drop_table("revoked_sessions")
