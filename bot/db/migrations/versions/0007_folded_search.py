"""Folded search keys: residents' names and households' codes and heads, without diacritics

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from bot.db.base import folded

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 5000


def _fill(table: str, key: str, columns: list[str]) -> None:
    """Compute the key of every existing row, in batches (the fold is Python's, not SQL's)."""
    bind = op.get_bind()
    rows = sa.table(table, sa.column("id"), sa.column(key), *(sa.column(c) for c in columns))
    last = 0
    while True:
        batch = bind.execute(
            sa.select(rows.c.id, *(rows.c[c] for c in columns))
            .where(rows.c.id > last)
            .order_by(rows.c.id)
            .limit(_BATCH)
        ).all()
        if not batch:
            return
        bind.execute(
            sa.update(rows).where(rows.c.id == sa.bindparam("row_id")),
            [{"row_id": r[0], key: folded(list(r[1:]))} for r in batch],
        )
        last = batch[-1][0]


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("search_name", sa.String(length=200), server_default="", nullable=False)
        )
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("search_key", sa.String(length=300), server_default="", nullable=False)
        )
    _fill("residents", "search_name", ["display_name"])
    _fill("households", "search_key", ["code", "head_name"])


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.drop_column("search_key")
    with op.batch_alter_table("residents", schema=None) as batch_op:
        batch_op.drop_column("search_name")
