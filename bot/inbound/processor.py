"""Background handling of inbox rows; the sweeper re-runs what a crash left."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.aio import stop_task
from bot.clock import Clock
from bot.inbound.models import InboxEvent, InboxStatus

log = logging.getLogger(__name__)


class RetryLater(Exception):
    """The event refers to something not recorded yet (a receipt racing its send); try again soon."""


MAX_ATTEMPTS = 5
MAX_YIELD = 0.25  # longest wait before one event while Zalo floods us; handling never stops
YIELD_STEP = 0.005
FLOOD_RATE = 500.0  # events per second offered to the webhook that mean a burst
RETRY_LATER = (
    2.0  # seconds before an event that came too early (a receipt before its send) runs again
)
# Receipts and echoes held in memory at most; during a large broadcast the rest wait in the inbox
# table (they are durable there already) and are read back in pages, so memory stays flat.
MAX_QUEUED = 5000
# Receipts and echoes handled in one transaction. A batch holds the write queue from its first
# write to its commit, so it stays short enough not to hold up the inbox for long.
BATCH = 32
# Receipts and echoes of what we sent come in their thousands during a broadcast; people's own
# messages must not queue behind them.
BACKGROUND_EVENTS = ("user_received_message", "user_seen_message", "oa_send_")


def lane(event_name: str) -> int:
    """0 for what people did (answered first), 1 for receipts and echoes of our own sends."""
    return 1 if event_name.startswith(BACKGROUND_EVENTS) else 0


# Handles one stored event inside the given session; the caller commits.
Handle = Callable[[AsyncSession, InboxEvent], Awaitable[None]]
# Settles what it can of a batch of stored events at once; returns the ids of the rows it settled.
Settle = Callable[[AsyncSession, list[InboxEvent]], Awaitable[set[int]]]


async def _settle_nothing(session: AsyncSession, rows: list[InboxEvent]) -> set[int]:
    return set()


class InboxProcessor:
    """One worker takes inbox rows in id order within two lanes: people's messages before receipts."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        handle: Handle,
        on_committed: Callable[[], None] = lambda: None,
        pressure: Callable[[], float] = lambda: 0.0,
        settle: Settle = _settle_nothing,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._handle = handle
        self._on_committed = on_committed
        self._pressure = pressure
        self._settle = settle
        self._queue: asyncio.PriorityQueue[tuple[int, int, str]] = asyncio.PriorityQueue()
        self._queued: set[int] = set()
        self._queued_background = 0  # lane-1 rows in the queue
        self._overflow = False  # some pending lane-1 rows were left in the table
        self._task: asyncio.Task[None] | None = None
        self._busy = False  # the worker is handling a batch
        self._retrying = 0  # rows waiting out RETRY_LATER before they are queued again
        self._idle = asyncio.Event()
        self._idle.set()

    def start(self) -> None:
        """Start the worker."""
        self._task = asyncio.create_task(self._run(), name="inbox-processor")

    async def stop(self) -> None:
        """Stop the worker; unprocessed rows stay pending for the next start."""
        await stop_task(self._task)
        self._task = None

    def submit(self, rows: list[tuple[int, str]]) -> None:
        """Queue newly stored rows, given as (id, event name); people's messages are always queued."""
        for ident, event_name in rows:
            if ident in self._queued:
                continue
            row_lane = lane(event_name)
            if row_lane == 1:
                if self._queued_background >= MAX_QUEUED:
                    self._overflow = True  # read back from the table once the queue runs dry
                    continue
                self._queued_background += 1
            self._queued.add(ident)
            self._queue.put_nowait((row_lane, ident, event_name))
            self._idle.clear()

    @property
    def idle(self) -> bool:
        """Nothing queued, being handled, overflowed into the table, or waiting to be retried."""
        return self._queue.empty() and not self._busy and not self._overflow and not self._retrying

    async def wait_idle(self) -> None:
        """Wait, while the worker runs, until it is idle (see `idle`); for tests and shutdown."""
        while not self.idle:
            self._idle.clear()
            await self._idle.wait()

    def _check_idle(self) -> None:
        if self.idle:
            self._idle.set()

    def _retry(self, ident: int, event_name: str) -> None:
        self._retrying -= 1
        self.submit([(ident, event_name)])
        self._check_idle()

    def _take(self, item: tuple[int, int, str]) -> tuple[int, str]:
        row_lane, ident, event_name = item
        if row_lane == 1:
            self._queued_background -= 1
        return ident, event_name

    @property
    def backlog(self) -> int:
        """Rows queued and not yet handled."""
        return self._queue.qsize()

    async def sweep(self, older_than: timedelta = timedelta(seconds=30)) -> int:
        """Queue pending rows that nobody is handling (after a crash or a retry-later)."""
        cutoff = self._clock.now() - older_than
        limit = MAX_QUEUED + len(self._queued)  # a page: whatever is beyond it is read back later
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(InboxEvent.id, InboxEvent.event_name)
                    .where(
                        InboxEvent.status == InboxStatus.PENDING, InboxEvent.received_at <= cutoff
                    )
                    .order_by(InboxEvent.id)
                    .limit(limit)
                )
            ).all()
        if len(rows) == limit:
            self._overflow = True
        fresh = [(i, name) for i, name in rows if i not in self._queued]
        self.submit(fresh)
        return len(fresh)

    async def run_until_idle(self) -> None:
        """Handle everything queued now (and what overflowed into the table); for tests and the CLI."""
        while not self._queue.empty() or self._overflow:
            if self._queue.empty():
                await self._read_back()
                continue
            await self.process_batch(self._next_batch(self._take(self._queue.get_nowait())))

    def _next_batch(self, first: tuple[int, str]) -> list[tuple[int, str]]:
        batch = [first]
        if lane(first[1]) == 1:
            # The queue is ordered by lane, so everything behind a receipt is a receipt too
            # (nothing can be queued between these synchronous takes).
            while len(batch) < BATCH and not self._queue.empty():
                batch.append(self._take(self._queue.get_nowait()))
        return batch

    async def _read_back(self) -> None:
        self._overflow = False
        await self.sweep(timedelta(0))
        self._check_idle()

    async def _run(self) -> None:
        while True:
            if self._queue.empty() and self._overflow:
                try:
                    await self._read_back()
                except Exception:
                    self._overflow = True
                    log.exception("reading pending inbox rows back failed")
                    await asyncio.sleep(1.0)
                continue
            batch = self._next_batch(self._take(await self._queue.get()))
            self._busy = True
            try:
                await self._step_aside()
                await self.process_batch(batch)
            except Exception:
                log.exception("inbox rows %d…: unexpected failure", batch[0][0])
            finally:
                self._busy = False
                self._check_idle()

    async def _step_aside(self) -> None:
        # Zalo wants its 200 within 2 s, and the inbox already holds what is handled here. In a
        # burst, handling waits for it to ease, but never longer than MAX_YIELD per event, so it
        # always moves on; at the pace of receipts during a broadcast it does not wait at all.
        waited = 0.0
        while self._pressure() >= FLOOD_RATE and waited < MAX_YIELD:
            await asyncio.sleep(YIELD_STEP)
            waited += YIELD_STEP

    async def process_batch(self, batch: list[tuple[int, str]]) -> None:
        """Handle several rows in one transaction; if any of them fails, each is handled on its own."""
        if len(batch) == 1:
            await self.process(*batch[0])
            return
        ids = [ident for ident, _ in batch]
        self._queued.difference_update(ids)
        try:
            async with self._sessions() as session:
                rows = (
                    await session.scalars(
                        select(InboxEvent)
                        .where(InboxEvent.id.in_(ids), InboxEvent.status == InboxStatus.PENDING)
                        .order_by(InboxEvent.id)
                    )
                ).all()
                settled = await self._settle(session, list(rows))
                for row in rows:
                    if row.id not in settled:
                        await self._handle(session, row)
                if rows:
                    # One statement marks them all, instead of an UPDATE flushed before each handler.
                    await session.execute(
                        update(InboxEvent)
                        .where(InboxEvent.id.in_([row.id for row in rows]))
                        .values(status=InboxStatus.DONE, processed_at=self._clock.now())
                        .execution_options(synchronize_session=False)
                    )
                await session.commit()
        except Exception:  # noqa: BLE001 - any failure: the rows are handled one by one below
            # Rolled back as a whole. One by one, each row gets its own outcome: done, retried
            # later (a receipt that came before its send was recorded), or counted as failed.
            for ident, event_name in batch:
                await self.process(ident, event_name)
            return
        if rows:
            self._on_committed()

    async def process(self, ident: int, event_name: str = "") -> None:
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
            # Stays pending; tried again shortly (and by the sweeper, should this process die).
            self._retrying += 1
            asyncio.get_running_loop().call_later(RETRY_LATER, self._retry, ident, event_name)
            return
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
                            status=InboxStatus.FAILED
                            if attempts >= MAX_ATTEMPTS
                            else InboxStatus.PENDING,
                        )
                    )
                    await session.commit()
            return
        self._on_committed()


def decode_body(row: InboxEvent) -> dict[str, object]:
    """The stored raw body as a JSON object."""
    payload = json.loads(row.body)
    if not isinstance(payload, dict):
        raise ValueError("stored body is not an object")  # noqa: TRY004 - as json.loads' own errors
    return payload
