"""Least privilege: hash submissions wait for a reviewer, scans remember the submitting key,
review-UI sessions are kept server-side so logging out ends them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# Frozen copies of the model types: a migration must not change when models.py does.
TIMESTAMP = sa.DateTime(timezone=True)
JSON_DOC = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("scans") as batch:
        batch.add_column(sa.Column("submitted_key_id", sa.String(64), nullable=True))
        batch.create_index("ix_scans_submitted_key_id", ["submitted_key_id"])
    op.create_table(
        "hash_submissions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("bank", sa.String(64), nullable=False),
        sa.Column("entries", JSON_DOC, nullable=False),
        sa.Column("entry_count", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(256), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("submitted_by", sa.String(128), nullable=False),
        sa.Column("submitted_key_id", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.Column("decided_key_id", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("added", sa.Integer(), nullable=True),
        sa.Column("decided_at", TIMESTAMP, nullable=True),
    )
    for column in ("bank", "state", "submitted_key_id", "created_at"):
        op.create_index(f"ix_hash_submissions_{column}", "hash_submissions", [column])
    op.create_table(
        "ui_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("ended_at", TIMESTAMP, nullable=True),
    )
    op.create_index("ix_ui_sessions_key_id", "ui_sessions", ["key_id"])


def downgrade() -> None:
    op.drop_table("ui_sessions")
    op.drop_table("hash_submissions")
    with op.batch_alter_table("scans") as batch:
        batch.drop_index("ix_scans_submitted_key_id")
        batch.drop_column("submitted_key_id")
