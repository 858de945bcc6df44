"""Each hamlet's approval keeps who got no 1:1 copy of the firing, and why

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("hamlet_approvals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reach_gaps", sa.JSON(), nullable=True))


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("hamlet_approvals", schema=None) as batch_op:
        batch_op.drop_column("reach_gaps")
