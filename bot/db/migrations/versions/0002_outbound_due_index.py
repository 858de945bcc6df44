"""a partial index of pending outbound rows, by lane and due time, for the sender's claims

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING_ONLY = sa.text("status = 'pending'")


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(
        "ix_outbound_due",
        "outbound_messages",
        ["priority", "next_attempt_at", "id"],
        unique=False,
        postgresql_where=PENDING_ONLY,
        sqlite_where=PENDING_ONLY,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_outbound_due", table_name="outbound_messages")
