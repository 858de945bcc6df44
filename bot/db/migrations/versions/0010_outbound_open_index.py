"""a partial index of outbound rows not sent, by purpose, for counting a firing's open copies

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOT_SENT = sa.text("status <> 'sent'")


def upgrade() -> None:
    """Apply this revision."""
    op.create_index(
        "ix_outbound_open",
        "outbound_messages",
        ["purpose", "id"],
        unique=False,
        postgresql_where=NOT_SENT,
        sqlite_where=NOT_SENT,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_outbound_open", table_name="outbound_messages")
