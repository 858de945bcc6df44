"""Zalo link codes: a staff account without a Zalo id gets one by sending a code to the OA

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "zalo_link_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("created_at", bot.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", bot.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", bot.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["staff_id"], ["staff.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code_hash"),
    )
    with op.batch_alter_table("zalo_link_codes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_zalo_link_codes_staff_id"), ["staff_id"], unique=False)


def downgrade() -> None:
    """Revert this revision."""
    op.drop_table("zalo_link_codes")
