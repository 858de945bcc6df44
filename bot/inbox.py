"""The durable inbox: accepted webhook events, written in batched commits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql import Executable

from bot.clock import Clock
from bot.models import InboxEvent, InboxStatus

log = logging.getLogger(__name__)

MAX_BATCH = 256


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
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        on_stored: Callable[[list[int]], None] = lambda ids: None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._on_stored = on_stored
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the background writer."""
        self._task = asyncio.create_task(self._run(), name="inbox-writer")

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        if self._task is None:
            return
        while not self._queue.empty():
            await asyncio.sleep(0.01)
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None

    async def accept(self, key: str, event_name: str, body: str) -> bool:
        """Store one event durably; True if new, False if its key was already stored."""
        if self._task is None or self._task.done():
            raise RuntimeError("inbox writer is not running")
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(key, event_name, body, done))
        return await done

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
            new_ids = [stored[item.key] for item in batch if item.key in stored]
            seen: set[str] = set()
            for item in batch:
                if not item.done.done():
                    fresh = item.key in stored and item.key not in seen
                    item.done.set_result(fresh)
                seen.add(item.key)
            if new_ids:
                self._on_stored(sorted(set(new_ids)))

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
        async with self._sessions() as session:
            stmt = insert_ignoring_duplicates(session, list(rows.values()))
            result = await session.execute(stmt)
            stored = {key: ident for ident, key in result.all()}
            await session.commit()
        return stored


def insert_ignoring_duplicates(session: AsyncSession, rows: list[dict[str, object]]) -> Executable:
    """INSERT … ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key, for either backend."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        pg = pg_insert(InboxEvent).values(rows).on_conflict_do_nothing(index_elements=["dedupe_key"])
        return pg.returning(InboxEvent.id, InboxEvent.dedupe_key)
    if dialect == "sqlite":
        lite = sqlite_insert(InboxEvent).values(rows).on_conflict_do_nothing(index_elements=["dedupe_key"])
        return lite.returning(InboxEvent.id, InboxEvent.dedupe_key)
    return insert(InboxEvent).values(rows).returning(InboxEvent.id, InboxEvent.dedupe_key)
