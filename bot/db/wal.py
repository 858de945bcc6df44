"""SQLite's write-ahead log copied back into the database by a background task, never by a commit."""

from __future__ import annotations

import asyncio
import logging
import time

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.aio import stop_task
from bot.db.engine import SQLITE_BUSY_SECONDS
from bot.db.write_gate import gate_of

log = logging.getLogger(__name__)

CHECKPOINT_EVERY = 1.0  # seconds
# About 64 MB with SQLite's 4 KB pages. Past this the log is restarted from its beginning; each restart
# holds up writers for a moment, so not too often (at 16 MB the webhook took 15% fewer events per second).
RESTART_AFTER_FRAMES = 16384
# How long a restart may wait for readers of old frames; the service's writers wait meanwhile.
RESTART_WAIT_MS = 100
SLOW_HOLD = 1.0  # seconds: a checkpoint that holds up writers longer is logged

Checkpoint = tuple[int, int, int]  # busy, frames in the log, frames copied back


class WalCheckpointer:
    """Runs checkpoints on a timer for an engine whose commits no longer checkpoint.

    SQLite's automatic checkpoint runs inside whichever commit crosses the threshold, and that
    commit (often the inbox's, which a webhook answer waits for) then takes 100 ms or more. A
    passive checkpoint from its own connection copies what it can without blocking any writer.

    Passive checkpoints alone never let the log start over while writes keep coming: SQLite
    reuses the log from its beginning only when a writer finds every frame copied back and no
    reader still on the old frames, and under a steady stream of writes that moment never comes.
    The log then grows without end (to gigabytes in one long broadcast), and with it the mapped
    index every connection searches on each read. So once the log is long, the checkpointer takes
    the process's write gate (no writer of ours is active), copies the rest and waits briefly for
    the last readers of old frames, after which the next commit starts the log over.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        every: float = CHECKPOINT_EVERY,
        restart_after_frames: int = RESTART_AFTER_FRAMES,
    ) -> None:
        self._engine = engine
        self._every = every
        self._restart_after = restart_after_frames
        self._task: asyncio.Task[None] | None = None
        self.restarts = 0  # times the log was made to start over

    def start(self) -> None:
        """Start checkpointing in the background."""
        self._task = asyncio.create_task(self._run(), name="wal-checkpoint")

    async def stop(self) -> None:
        """Stop, and leave an empty log behind however many connections are still open."""
        if self._task is not None:
            await stop_task(self._task)
            self._task = None
            try:
                await self._gated("TRUNCATE")
            except Exception:
                log.exception("final WAL checkpoint failed")

    async def checkpoint(self) -> Checkpoint:
        """One passive checkpoint."""
        async with self._engine.connect() as conn:
            return await _checkpoint(conn, "PASSIVE")

    async def restart(self) -> Checkpoint:
        """Copy the whole log back with no writer of ours active, so the next commit starts it over."""
        result = await self._gated("RESTART")
        if result[0] == 0:
            self.restarts += 1
        return result

    async def _gated(self, mode: str) -> Checkpoint:
        gate = gate_of(self._engine)
        # The connection first: a writer holding one while it waits for the gate must not wait on us.
        async with self._engine.connect() as conn:
            if gate is not None:
                await asyncio.wait_for(gate.acquire(), SQLITE_BUSY_SECONDS)
            held = time.perf_counter()
            try:
                await conn.exec_driver_sql(f"PRAGMA busy_timeout={RESTART_WAIT_MS}")
                return await _checkpoint(conn, mode)
            finally:
                if gate is not None:
                    gate.release()
                held = time.perf_counter() - held
                if (
                    held > SLOW_HOLD
                ):  # a slow disk sync: every writer (the webhook's too) waited this long
                    log.warning("WAL checkpoint (%s) held up writers for %.1f s", mode, held)
                await conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_SECONDS * 1000}")

    async def tick(self) -> Checkpoint:
        """A passive checkpoint, and a restart if the log has grown long; returns the last result."""
        result = await self.checkpoint()
        if result[1] >= self._restart_after:
            result = await self.restart()
        return result

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            try:
                await self.tick()
            except Exception:
                log.exception("WAL checkpoint failed")


async def _checkpoint(conn: AsyncConnection, mode: str) -> Checkpoint:
    row = (await conn.exec_driver_sql(f"PRAGMA wal_checkpoint({mode})")).one()
    busy, frames, copied = (int(v) for v in row)
    return busy, frames, copied
