"""deliveries by firing and resident, so one hamlet's reach starts from its households

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_index("ix_deliveries_resident", "deliveries", ["broadcast_id", "resident_id"])


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index("ix_deliveries_resident", table_name="deliveries")
