"""The durable inbox: accepted webhook events, written in batched commits."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Executable

from bot.aio import stop_task
from bot.clock import Clock
from bot.db.write_gate import PRIORITY_OPTION
from bot.inbound.models import InboxEvent, InboxStatus

log = logging.getLogger(__name__)

MAX_BATCH = 256  # rows per commit; 6 parameters each stays far below SQLite's limit of 32,766
_COLUMNS = ("dedupe_key", "event_name", "body", "received_at", "status", "attempts")
# Rows per SQLite insert statement: every size up to 32 (the usual batch), then steps of about 1.5x.
_SQLITE_SIZES = sorted(
    {*range(1, 33), *(n for k in range(4, 9) for n in (1 << k, 3 << k) if n <= MAX_BATCH)}
)
RATE_WINDOW = 0.5  # seconds over which the offered rate is counted


@dataclass
class _Pending:
    key: str
    event_name: str
    body: str
    done: asyncio.Future[bool]


class InboxWriter:
    """Group-commits accepted events: one transaction per batch, each caller told once it is durable.

    A commit per event caps throughput at the disk's commit rate; here every request waiting while a
    commit runs goes into the next one, so the batch grows with the load.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        clock: Clock,
        on_stored: Callable[[list[tuple[int, str]]], None] = lambda rows: None,
    ) -> None:
        self._engine = engine
        self._clock = clock
        self.on_stored = on_stored
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._waiting = 0
        self._window_start = 0.0
        self._window_count = 0
        self._last_rate = 0.0
        self._statement: Executable | None = None
        self._sqlite_sql: dict[int, str] = {}

    @property
    def rate(self) -> float:
        """Events offered per second over the last half second or so: how hard Zalo is sending."""
        now = time.monotonic()
        if now - self._window_start > 2 * RATE_WINDOW:
            return 0.0
        # A window just begun has counted little yet: the one before it speaks for the moment.
        return max(self._last_rate, self._window_count / max(now - self._window_start, RATE_WINDOW))

    def start(self) -> None:
        """Start the background writer."""
        self._task = asyncio.create_task(self._run(), name="inbox-writer")

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        if self._task is None:
            return
        # The writer task drains the queue; nothing else could signal that it is empty.
        while not self._queue.empty() and not self._task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        await stop_task(self._task)
        self._task = None

    async def accept(self, key: str, event_name: str, body: str) -> bool:
        """Store one event durably; True if new, False if its key was already stored."""
        if self._task is None or self._task.done():
            raise RuntimeError("inbox writer is not running")
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(key, event_name, body, done))
        now = time.monotonic()
        if now - self._window_start > RATE_WINDOW:
            elapsed = now - self._window_start
            self._last_rate = self._window_count / elapsed if elapsed < 2 * RATE_WINDOW else 0.0
            self._window_start, self._window_count = now, 0
        self._window_count += 1
        self._waiting += 1
        try:
            return await done
        finally:
            self._waiting -= 1

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                stored = await self._write(batch)
            except Exception as exc:  # the callers answer 503 so Zalo re-sends; nothing is lost
                log.exception("inbox batch of %d failed", len(batch))
                for item in batch:
                    if not item.done.done():
                        item.done.set_exception(exc)
                continue
            new_rows = {stored[item.key]: item.event_name for item in batch if item.key in stored}
            seen: set[str] = set()
            for item in batch:
                if not item.done.done():
                    fresh = item.key in stored and item.key not in seen
                    item.done.set_result(fresh)
                seen.add(item.key)
            if new_rows:
                self.on_stored(sorted(new_rows.items()))

    async def _write(self, batch: list[_Pending]) -> dict[str, int]:
        now = self._clock.now()
        rows: dict[str, dict[str, object]] = {}
        for item in batch:
            rows.setdefault(
                item.key,
                {
                    "dedupe_key": item.key,
                    "event_name": item.event_name[:64],
                    "body": item.body,
                    "received_at": now,
                    "status": InboxStatus.PENDING,
                    "attempts": 0,
                },
            )
        async with self._engine.begin() as conn:
            if self._engine.dialect.name == "sqlite":
                return await self._write_sqlite(conn, list(rows.values()), now)
            if self._statement is None:
                self._statement = insert_ignoring_duplicates(self._engine.dialect.name)
            result = await conn.execute(self._statement, list(rows.values()))
            return {key: ident for ident, key in result.all()}

    async def _write_sqlite(
        self, conn: AsyncConnection, rows: list[dict[str, object]], now: datetime
    ) -> dict[str, int]:
        # The webhook's answer waits on this statement, so it skips the per-row work of a compiled
        # insert: one plain multi-row INSERT, and the shared timestamp converted once by the
        # column's own type. Large batches are padded to one of a few sizes with repeats of their
        # last row (ignored as duplicates): the driver keeps a bounded set of prepared statements per
        # connection instead of one large statement for every batch length it has seen.
        stamp = InboxEvent.__table__.c.received_at.type.bind_processor(conn.dialect)
        received_at = stamp(now) if stamp else now
        pending = str(InboxStatus.PENDING)
        size = next(n for n in _SQLITE_SIZES if n >= len(rows))
        params: list[object] = []
        for row in rows + rows[-1:] * (size - len(rows)):
            params += (row["dedupe_key"], row["event_name"], row["body"], received_at, pending, 0)
        result = await conn.exec_driver_sql(
            self._sqlite_insert(size), tuple(params), execution_options={PRIORITY_OPTION: True}
        )
        return {key: ident for ident, key in cast(list[tuple[int, str]], result.all())}

    def _sqlite_insert(self, size: int) -> str:
        sql = self._sqlite_sql.get(size)
        if sql is None:
            one = "(" + ", ".join("?" * len(_COLUMNS)) + ")"
            sql = self._sqlite_sql[size] = (
                f"INSERT INTO {InboxEvent.__tablename__} ({', '.join(_COLUMNS)}) "
                f"VALUES {', '.join([one] * size)} "
                "ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key"
            )
        return sql


def insert_ignoring_duplicates(dialect: str) -> Executable:
    """INSERT … ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key, for PostgreSQL.

    One fixed statement run with many parameter sets: compiled once and cached, where a multi-VALUES
    statement of a different length per batch would be compiled again for every batch.
    """
    table = cast(Table, InboxEvent.__table__)
    if dialect == "postgresql":
        pg = pg_insert(table).on_conflict_do_nothing(index_elements=["dedupe_key"])
        return pg.returning(table.c.id, table.c.dedupe_key)
    return insert(table).returning(table.c.id, table.c.dedupe_key)
