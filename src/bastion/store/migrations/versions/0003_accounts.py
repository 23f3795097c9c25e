"""Accounts: users who log in, their provider keys (encrypted), system provider keys, conversations.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

A person who logs in is a row of ``users`` with a password hash, so the user_id their spend logs
carry is the account itself.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_ID = 255
_TIME = sa.DateTime(timezone=True)


def _sealed() -> list[sa.Column[Any]]:
    return [
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("masked", sa.String(32), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
    ]


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("password_hash", sa.String(255), nullable=True))
        batch.add_column(sa.Column("full_name", sa.String(_ID), nullable=True))
        batch.add_column(sa.Column("is_active", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("is_superuser", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_index(
        "ix_users_login_email",
        "users",
        ["user_email"],
        unique=True,
        sqlite_where=sa.text("password_hash IS NOT NULL"),
        postgresql_where=sa.text("password_hash IS NOT NULL"),
    )
    op.create_table(
        "user_provider_keys",
        sa.Column("user_id", sa.String(_ID), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        *_sealed(),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name="fk_user_provider_keys_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", "provider", name="pk_user_provider_keys"),
    )
    op.create_table(
        "system_provider_keys",
        sa.Column("provider", sa.String(32), nullable=False),
        *_sealed(),
        sa.Column("updated_by", sa.String(_ID), nullable=True),
        sa.PrimaryKeyConstraint("provider", name="pk_system_provider_keys"),
    )
    op.create_table(
        "conversations",
        sa.Column("conversation_id", sa.String(36), nullable=False),
        sa.Column("user_id", sa.String(_ID), nullable=False),
        sa.Column("model_id", sa.String(_ID), nullable=False),
        sa.Column("title", sa.String(_ID), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.user_id"], name="fk_conversations_user_id_users", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("conversation_id", name="pk_conversations"),
    )
    op.create_index("ix_conversations_user_id_updated_at", "conversations", ["user_id", "updated_at"])
    op.create_table(
        "conversation_messages",
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("conversation_id", sa.String(36), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cost", sa.Numeric(18, 10), nullable=False),
        sa.Column("request_id", sa.String(_ID), nullable=True),
        sa.Column("created_at", _TIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.conversation_id"],
            name="fk_conversation_messages_conversation_id_conversations",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", name="pk_conversation_messages"),
    )
    op.create_index(
        "ix_conversation_messages_conversation_id_created_at",
        "conversation_messages",
        ["conversation_id", "created_at"],
    )


def downgrade() -> None:
    op.drop_table("conversation_messages")
    op.drop_table("conversations")
    op.drop_table("system_provider_keys")
    op.drop_table("user_provider_keys")
    op.drop_index("ix_users_login_email", table_name="users")
    with op.batch_alter_table("users") as batch:
        for column in ("is_superuser", "is_active", "full_name", "password_hash"):
            batch.drop_column(column)
