"""Background handling of inbox rows, in arrival order; the sweeper re-runs what a crash left."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.clock import Clock
from bot.conversation import RetryLater
from bot.models import InboxEvent, InboxStatus

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
MAX_DEFER = 0.25  # seconds handling may wait for acknowledgements, per event
DEFER_STEP = 0.005

# Handles one stored event inside the given session; the caller commits.
Handle = Callable[[AsyncSession, InboxEvent], Awaitable[None]]


class InboxProcessor:
    """One worker takes inbox rows in id order, so a resident's messages are answered in order."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        handle: Handle,
        on_committed: Callable[[], None] = lambda: None,
        defer_while: Callable[[], bool] = lambda: False,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._handle = handle
        self._on_committed = on_committed
        self._defer_while = defer_while
        self._queue: asyncio.Queue[int] = asyncio.Queue()
        self._queued: set[int] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the worker."""
        self._task = asyncio.create_task(self._run(), name="inbox-processor")

    async def stop(self) -> None:
        """Stop the worker; unprocessed rows stay pending for the next start."""
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    def submit(self, ids: list[int]) -> None:
        """Queue newly stored rows."""
        for ident in ids:
            if ident not in self._queued:
                self._queued.add(ident)
                self._queue.put_nowait(ident)

    @property
    def backlog(self) -> int:
        """Rows queued and not yet handled."""
        return self._queue.qsize()

    async def sweep(self, older_than: timedelta = timedelta(seconds=30)) -> int:
        """Queue pending rows that nobody is handling (after a crash or a retry-later)."""
        cutoff = self._clock.now() - older_than
        async with self._sessions() as session:
            ids = (
                await session.scalars(
                    select(InboxEvent.id)
                    .where(InboxEvent.status == InboxStatus.PENDING, InboxEvent.received_at <= cutoff)
                    .order_by(InboxEvent.id)
                )
            ).all()
        fresh = [i for i in ids if i not in self._queued]
        self.submit(fresh)
        return len(fresh)

    async def run_until_idle(self) -> None:
        """Handle everything queued now; for tests and the CLI."""
        while not self._queue.empty():
            ident = self._queue.get_nowait()
            await self.process(ident)

    async def _run(self) -> None:
        while True:
            ident = await self._queue.get()
            await self._yield_to_acknowledgements()
            try:
                await self.process(ident)
            except Exception:
                log.exception("inbox row %d: unexpected failure", ident)

    async def _yield_to_acknowledgements(self) -> None:
        # Zalo wants its 200 within 2 s and the inbox already holds the event, so while a burst is
        # being acknowledged, handling waits (a little: replies must not wait for long either).
        waited = 0.0
        while self._defer_while() and waited < MAX_DEFER:
            await asyncio.sleep(DEFER_STEP)
            waited += DEFER_STEP

    async def process(self, ident: int) -> None:
        """Handle one row: its effects and its 'done' mark commit together, or not at all."""
        self._queued.discard(ident)
        try:
            async with self._sessions() as session:
                row = await session.get(InboxEvent, ident)
                if row is None or row.status != InboxStatus.PENDING:
                    return
                await self._handle(session, row)
                row.status = InboxStatus.DONE
                row.processed_at = self._clock.now()
                await session.commit()
        except RetryLater:
            return  # stays pending; the sweeper brings it back
        except Exception as exc:
            log.exception("inbox row %d failed", ident)
            async with self._sessions() as session:
                row = await session.get(InboxEvent, ident)
                if row is not None:
                    attempts = row.attempts + 1
                    await session.execute(
                        update(InboxEvent)
                        .where(InboxEvent.id == ident)
                        .values(
                            attempts=attempts,
                            error=f"{type(exc).__name__}: {exc}"[:2000],
                            status=InboxStatus.FAILED if attempts >= MAX_ATTEMPTS else InboxStatus.PENDING,
                        )
                    )
                    await session.commit()
            return
        self._on_committed()


def decode_body(row: InboxEvent) -> dict[str, object]:
    """The stored raw body as a JSON object."""
    payload = json.loads(row.body)
    if not isinstance(payload, dict):
        raise ValueError("stored body is not an object")
    return payload
