"""Hash bank tables (deepscreen.banks.store): banks and their entries.

The banks package creates its tables itself when it opens a database that lacks them (the
CLI's own SQLite file), so this migration skips a table that already exists.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ENTRY_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    existing = set(sa.inspect(op.get_bind()).get_table_names())
    if "banks" not in existing:
        op.create_table(
            "banks",
            sa.Column("id", sa.Integer(), primary_key=True),
            sa.Column("name", sa.String(64), nullable=False, unique=True),
            sa.Column("label", sa.String(128), nullable=False),
            sa.Column("description", sa.Text(), nullable=False),
            sa.Column("pdq_threshold", sa.Integer(), nullable=False),
            sa.Column("video_query_percent", sa.Float(), nullable=False),
            sa.Column("video_compared_percent", sa.Float(), nullable=False),
            sa.Column("generation", sa.Integer(), nullable=False),
            sa.Column("cache_key", sa.String(32), nullable=False),
            sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        )
    if "bank_entries" not in existing:
        op.create_table(
            "bank_entries",
            sa.Column("id", ENTRY_ID, primary_key=True, autoincrement=True),
            sa.Column("bank_id", sa.Integer(), sa.ForeignKey("banks.id", ondelete="CASCADE"),
                      nullable=False),
            sa.Column("signal_type", sa.String(16), nullable=False),
            sa.Column("value", sa.Text(), nullable=False),
            sa.Column("meta", sa.JSON(), nullable=False),
            sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        )
        op.create_index("ix_bank_entries_bank_type", "bank_entries", ["bank_id", "signal_type"])


def downgrade() -> None:
    op.drop_table("bank_entries")
    op.drop_table("banks")
