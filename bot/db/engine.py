"""Database plumbing: declarative base, UTC column type, engine and sessions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bot.config import async_url
from bot.db.base import json_text
from bot.db.write_gate import install_write_gate

SQLITE_BUSY_SECONDS = 30
WAL_SIZE_LIMIT = (
    128 * 1024 * 1024
)  # bytes: above where bot.wal restarts the log, so a restart rarely cuts it


def make_engine(url: str, *, checkpoint_in_background: bool = False, **kwargs: Any) -> AsyncEngine:
    """Create the async engine; SQLite gets WAL so a killed process loses nothing committed.

    With `checkpoint_in_background`, commits never checkpoint the SQLite log: the caller runs a
    `bot.wal.WalCheckpointer` instead.
    """
    url = async_url(url)
    kwargs.setdefault("json_serializer", json_text)
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_SECONDS})
    engine = create_async_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode survives a process kill; only power loss can drop the last commits.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA wal_autocheckpoint={0 if checkpoint_in_background else 1000}")
            # A log that grew during a burst is cut back to this size when it next starts over.
            cur.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")
            cur.close()

        install_write_gate(engine, SQLITE_BUSY_SECONDS)

    return engine


# What every caller holds: a factory of sessions on the service's engine.
Sessions = async_sessionmaker[AsyncSession]


def make_sessionmaker(engine: AsyncEngine) -> Sessions:
    """Sessions that keep loaded values usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)
