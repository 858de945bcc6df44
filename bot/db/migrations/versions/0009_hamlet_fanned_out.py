"""Each hamlet's copies of a firing are marked written, so a hamlet approved late is sent too

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import bot.db.base

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("hamlet_approvals", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("fanned_out_at", bot.db.base.UTCDateTime(timezone=True), nullable=True)
        )
    # Firings already written in full: their approved hamlets are done.
    op.execute(
        "UPDATE hamlet_approvals SET fanned_out_at = ("
        " SELECT broadcasts.started_at FROM broadcasts"
        " WHERE broadcasts.id = hamlet_approvals.broadcast_id)"
        " WHERE status = 'approved' AND broadcast_id IN"
        " (SELECT id FROM broadcasts WHERE fanned_out)"
    )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("hamlet_approvals", schema=None) as batch_op:
        batch_op.drop_column("fanned_out_at")
