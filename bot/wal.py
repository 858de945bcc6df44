"""SQLite's write-ahead log copied back into the database by a background task, never by a commit."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncEngine

log = logging.getLogger(__name__)

CHECKPOINT_EVERY = 1.0  # seconds


class WalCheckpointer:
    """Runs passive checkpoints on a timer for an engine whose commits no longer checkpoint.

    SQLite's automatic checkpoint runs inside whichever commit crosses the threshold, and that
    commit (often the inbox's, which a webhook answer waits for) then takes 100 ms or more. A
    passive checkpoint from its own connection copies what it can without blocking any writer.
    """

    def __init__(self, engine: AsyncEngine, every: float = CHECKPOINT_EVERY) -> None:
        self._engine = engine
        self._every = every
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start checkpointing in the background."""
        self._task = asyncio.create_task(self._run(), name="wal-checkpoint")

    async def stop(self) -> None:
        """Stop; closing the last connection checkpoints what is left."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def checkpoint(self) -> tuple[int, int, int]:
        """One passive checkpoint: (busy, frames in the log, frames copied back)."""
        async with self._engine.connect() as conn:
            busy, frames, copied = (
                int(v) for v in (await conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")).one()
            )
        return busy, frames, copied

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                await self.checkpoint()
            except Exception:
                log.exception("WAL checkpoint failed")
