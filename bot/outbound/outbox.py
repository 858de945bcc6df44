"""The outbox: messages are written as rows first, then sent, so a crash never loses or doubles one."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Select, String, Table, bindparam, exists, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from bot.aio import stop_task
from bot.clock import Clock
from bot.outbound.models import OutboundMessage, OutboxStatus
from bot.zalo.errors import AuthorizationLost, ZaloError

log = logging.getLogger(__name__)

# What a person reads about a permanent failure (Zalo's code is stored beside it).
FAILURE_REASONS = {
    -213: "Người nhận chưa quan tâm OA",
    -217: "Người nhận đã chặn tin từ OA",
    -227: "Tài khoản người nhận bị khoá hoặc lâu không dùng",
    -230: "Người nhận không tương tác với OA trong 7 ngày qua",
    -232: "Người nhận không tương tác với OA trong 7 ngày qua",
    -237: "Nhóm Zalo đã bị tắt (hết hạn gói nhóm)",
    -244: "Người nhận đã chặn loại tin này",
    -248: "Nội dung vi phạm tiêu chuẩn của Zalo",
    -403: "OA không còn trong nhóm Zalo",
}
MAX_ATTEMPTS = 8
REPLY_SLOTS = 4  # sending slots broadcasts may never take
STALE_SENDING = timedelta(minutes=2)
RESOLVE_TRIES = 5
# Reading a chat back after an unknown send: pages of the conversation APIs' maximum size, and a cap
# on how far back a busy group is read before a person is asked instead.
HISTORY_PAGE = 10
HISTORY_PAGES = 30
CLOCK_SKEW = timedelta(
    minutes=1
)  # Zalo's clock against ours, when comparing a copy's time to the send
# Zalo does not say its history is immediate: a copy missing from a read made sooner than this after
# the send may still appear, so only later reads may conclude that it never left.
HISTORY_LAG = timedelta(seconds=60)
REREAD_POLL = 0.5  # seconds between looks at the clock while a read-back waits out the lag
UNREADABLE_REASON = (
    "Không đọc được lịch sử trò chuyện từ Zalo để biết tin đã đến chưa; cần người kiểm tra"
)
TOO_DEEP_REASON = (
    "Sau khi gửi, cuộc trò chuyện đã có thêm quá nhiều tin nhắn nên không dò lại được tin này; "
    "cần người kiểm tra"
)

Send = Callable[[OutboundMessage], Awaitable[str]]
# One page of a row's conversation, newest first: (row, offset, count) -> items.
History = Callable[[OutboundMessage, int, int], Awaitable[list[dict[str, Any]]]]


def outbound_row(
    *,
    key: str,
    channel: str,
    recipient_id: str,
    text: str,
    purpose: str,
    now: datetime,
    priority: bool = True,
    message: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The column values of a new, pending outbound row (for bulk inserts)."""
    return {
        "key": key,
        "channel": channel,
        "recipient_id": recipient_id,
        "purpose": purpose,
        "text": text,
        # A plain-text message is sent from `text`: a second copy in `message` took a row past half a
        # database page, so each row needed a page of its own.
        "message": message or {},
        "priority": priority,
        "status": OutboxStatus.PENDING,
        "attempts": 0,
        "resolve_attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def zalo_message(row: OutboundMessage) -> dict[str, Any]:
    """Zalo's "message" object for a row: the stored one, or its text."""
    return row.message or {"text": row.text}


def queue_message(session: AsyncSession, **fields: Any) -> OutboundMessage:
    """Add an outbound row (the fields of `outbound_row`); it is sent only after the caller commits."""
    row = OutboundMessage(**outbound_row(**fields))
    session.add(row)
    return row


def failure_reason(code: int, message: str) -> str:
    """A Vietnamese reason for Zalo's error code."""
    return FAILURE_REASONS.get(code, f"Zalo từ chối gửi tin (mã {code})")


# Written into the SQL rather than bound, so that both planners see the partial index applies.
PENDING_LITERAL = literal(OutboxStatus.PENDING.value, String(16), literal_execute=True)


def due_rows(
    now: datetime, priority: bool, limit: int, skip: Collection[int] = ()
) -> Select[OutboundMessage]:
    """Pending rows of one lane whose time has come, longest due first (the sender's claim)."""
    query = (
        select(OutboundMessage)
        .where(
            OutboundMessage.status == PENDING_LITERAL,
            OutboundMessage.priority.is_(priority),
            OutboundMessage.next_attempt_at <= now,
        )
        .order_by(OutboundMessage.next_attempt_at, OutboundMessage.id)
        .limit(limit)
    )
    if skip:
        query = query.where(OutboundMessage.id.not_in(skip))
    return query


def backoff(attempts: int) -> timedelta:
    """Capped exponential backoff with jitter, for messages whose sends keep failing."""
    base = min(600.0, 5.0 * 2 ** max(0, attempts - 1))
    return timedelta(seconds=base * (0.5 + random.random() / 2))


class OutboxSender:
    """Drains due outbound rows through the Zalo client; replies first."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        send: Send,
        history: History,
        *,
        concurrency: int = 24,
        settle_delay: float = 2.0,
        history_lag: timedelta = HISTORY_LAG,
        on_authorization_lost: Callable[[str], Awaitable[None]] | None = None,
        on_failed: Callable[[OutboundMessage, int], Awaitable[None]] | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._send = send
        self._history = history
        self._concurrency = concurrency
        self._settle_delay = settle_delay  # seconds Zalo gets to show a send in the chat history
        # How late a copy may appear in the history: an absence is believed only that long after
        # the last moment Zalo could have accepted the send.
        self._history_lag = history_lag
        # A send of an earlier process could have been accepted up to that process's end, which
        # is before this one began.
        self._born = clock.now()
        self._unknown_at: dict[
            int, datetime
        ] = {}  # row id -> when its send's outcome became unknown
        self._rereads: dict[
            int, asyncio.Task[None]
        ] = {}  # row id -> its read-back waiting out the lag
        self._chat_locks: dict[tuple[str, str], asyncio.Lock] = {}  # one read-back per chat at once
        self._unrecorded: dict[
            str, int
        ] = {}  # Zalo message id -> our row, until its record commits
        self._stopping = False
        self.on_authorization_lost = on_authorization_lost
        # Told of each permanent failure, after it is recorded; the root may set it once it is built.
        self.on_failed = on_failed
        self._in_flight: set[int] = set()
        self._claiming = 0  # claims whose query is under way: rows may be about to start
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._running_bulk: set[asyncio.Task[None]] = set()
        self._outcomes: list[tuple[int, dict[str, Any], asyncio.Future[None]]] = []
        self._recorder: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start draining in the background."""
        self._task = asyncio.create_task(self._loop(), name="outbox")

    async def stop(self) -> None:
        """Stop draining; sends under way finish first, then waiting read-backs are dropped."""
        self._stopping = True
        await stop_task(self._task)
        self._task = None
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
        for reread in list(self._rereads.values()):
            await stop_task(reread)  # the row stays `sending`; the next start reads it back

    def wake(self) -> None:
        """Tell the drain loop new rows were committed."""
        self._wake.set()

    @property
    def busy(self) -> bool:
        """Whether a claim, a send or a read-back is under way (re-reads waiting out the lag aside)."""
        return bool(self._running or self._in_flight or self._claiming)

    async def wait_idle(self) -> None:
        """Wait until every send started so far is recorded, or read back once (not re-reads)."""
        while self.busy:
            if self._running:
                await asyncio.gather(*self._running, return_exceptions=True)
            else:
                await asyncio.sleep(0)  # a claim is committing; its sends start right after

    async def wait_rereads(self) -> None:
        """Wait until the read-backs waiting out the history's lag have read (once the clock is past it)."""
        while self._rereads:
            await asyncio.gather(*list(self._rereads.values()), return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            try:
                if await self.drain_once():
                    continue
            except Exception:
                log.exception("outbox drain failed")
            # Sleep until a send finishes, new rows are committed, or a second passes (for rows
            # whose retry time comes): a reply queued while broadcasts fill the slots is not kept waiting.
            wake = asyncio.create_task(self._wake.wait())
            await asyncio.wait(
                {wake, *self._running}, timeout=1.0, return_when=asyncio.FIRST_COMPLETED
            )
            wake.cancel()
            self._wake.clear()

    async def drain_once(self) -> int:
        """Claim due rows up to the free concurrency and start sending them; returns how many started."""
        free = self._concurrency - len(self._running)
        if free <= 0:
            return 0
        # Some slots are kept for replies, so that a broadcast backlog can never hold them all.
        bulk_free = max(0, self._concurrency - REPLY_SLOTS - len(self._running_bulk))
        self._claiming += 1
        try:
            claimed = await self._claim(free, bulk_free)
        finally:
            self._claiming -= 1
        for row in claimed:
            task = asyncio.create_task(self._deliver(row))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
            if not row.priority:
                self._running_bulk.add(task)
                task.add_done_callback(self._running_bulk.discard)
        return len(claimed)

    async def _claim(self, limit: int, bulk_limit: int) -> list[OutboundMessage]:
        guarded: set[int] = set()
        try:
            return await self._claim_guarded(limit, bulk_limit, guarded)
        except BaseException:
            self._in_flight -= guarded
            raise

    async def _claim_guarded(
        self, limit: int, bulk_limit: int, guarded: set[int]
    ) -> list[OutboundMessage]:
        now = self._clock.now()
        async with self._sessions() as session:
            rows = list((await session.scalars(due_rows(now, True, limit, self._in_flight))).all())
            if len(rows) < limit and bulk_limit > 0:
                bulk = due_rows(now, False, min(limit - len(rows), bulk_limit), self._in_flight)
                rows += (await session.scalars(bulk)).all()
            if not rows:
                return []
            # Guarded before the claim commits, so a read-back running meanwhile leaves them alone.
            candidates = {row.id for row in rows} - self._in_flight
            rows = [row for row in rows if row.id in candidates]
            guarded |= candidates
            self._in_flight |= candidates
            # One UPDATE claims the batch. Marking SENDING is committed before the send: after a
            # crash, the row says its outcome is unknown instead of looking unsent.
            result = await session.execute(
                update(OutboundMessage)
                .where(
                    OutboundMessage.id.in_([row.id for row in rows]),
                    OutboundMessage.status == OutboxStatus.PENDING,
                )
                .values(
                    status=OutboxStatus.SENDING,
                    sending_since=now,
                    attempts=OutboundMessage.attempts + 1,
                )
                .returning(OutboundMessage.id)
                .execution_options(synchronize_session=False)
            )
            won = set(result.scalars().all())
            await session.commit()
        self._in_flight -= candidates - won
        claimed = []
        for row in rows:
            if row.id in won:  # another sender may have claimed the rest
                row.status, row.sending_since, row.attempts = (
                    OutboxStatus.SENDING,
                    now,
                    row.attempts + 1,
                )
                claimed.append(row)
        return claimed

    async def _deliver(self, row: OutboundMessage) -> None:
        values: dict[str, Any]
        try:
            message_id = await self._send(row)
        except AuthorizationLost as exc:
            if self.on_authorization_lost is not None:
                await self.on_authorization_lost(str(exc))
            values = {
                "status": OutboxStatus.PENDING,
                "next_attempt_at": self._clock.now() + timedelta(minutes=5),
            }
        except ZaloError as exc:
            if exc.transient and row.attempts < MAX_ATTEMPTS:
                values = {
                    "status": OutboxStatus.PENDING,
                    "next_attempt_at": self._clock.now() + backoff(row.attempts),
                    "error_code": exc.code,
                    "error_reason": failure_reason(exc.code, exc.message),
                }
            else:
                log.warning("outbound %s failed for good: %s %s", row.key, exc.code, exc.message)
                values = {
                    "status": OutboxStatus.FAILED,
                    "error_code": exc.code,
                    "error_reason": failure_reason(exc.code, exc.message),
                }
        except Exception as exc:  # noqa: BLE001 - any other failure leaves the outcome unknown
            # Whether Zalo got it is unknown (timeout, lost answer): let Zalo settle, then read back.
            log.warning(
                "outbound %s: send outcome unknown (%s); reading the chat back", row.key, exc
            )
            self._unknown_at[row.id] = self._clock.now()
            try:
                await asyncio.sleep(self._settle_delay)
                await self._resolve_row(row)
            except Exception:
                log.exception("reading outbound %s back", row.key)  # the sweep tries again
            finally:
                self._in_flight.discard(row.id)
            self.wake()
            return
        else:
            values = {
                "status": OutboxStatus.SENT,
                "zalo_message_id": message_id,
                "sent_at": self._clock.now(),
            }
            self._unrecorded[message_id] = row.id  # this copy is ours even before it is recorded
        try:
            await self._record(row.id, values)
        except Exception:
            # Not recorded: the row stays SENDING and is settled by reading the chat back.
            log.exception("could not record the outcome of outbound %s", row.key)
            self._unknown_at[row.id] = self._clock.now()
            self._in_flight.discard(row.id)
            return
        self._in_flight.discard(row.id)
        self._unrecorded.pop(str(values.get("zalo_message_id")), None)
        if values.get("status") == OutboxStatus.FAILED and self.on_failed is not None:
            try:
                await self.on_failed(row, int(values["error_code"]))
            except Exception:
                log.exception("failure hook for outbound %s", row.key)

    async def _record(self, row_id: int, values: dict[str, Any]) -> None:
        """Record one send's outcome; every outcome that arrives meanwhile shares one commit."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._outcomes.append((row_id, values, done))
        if self._recorder is None or self._recorder.done():
            self._recorder = asyncio.create_task(self._write_outcomes())
        await done

    async def _write_outcomes(self) -> None:
        table = cast(Table, OutboundMessage.__table__)
        while self._outcomes:
            batch, self._outcomes = self._outcomes, []
            groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
            for row_id, values, _ in batch:
                groups.setdefault(tuple(sorted(values)), []).append(
                    {"row_id": row_id, **{f"v_{k}": v for k, v in values.items()}}
                )
            try:
                async with self._sessions() as session:
                    for keys, params in groups.items():
                        stmt = (
                            update(table)
                            .where(table.c.id == bindparam("row_id"))
                            .values({k: bindparam(f"v_{k}") for k in keys})
                        )
                        await session.execute(stmt, params)
                    await session.commit()
            except Exception as exc:  # noqa: BLE001 - handed to every sender waiting on this commit
                for _, _, done in batch:
                    done.set_exception(exc)
                continue
            for _, _, done in batch:
                done.set_result(None)

    async def resolve_unknown(self, *, older_than: timedelta = STALE_SENDING) -> int:
        """Settle rows left in SENDING by a crash or a lost answer, by reading the chat back.

        The rule (docs/delivery.md): page back through the recipient's conversation until it is
        older than the send's start. The copy found there was sent. Its absence is believed only
        once the history has had HISTORY_LAG to show it; the row is then sent again. A history that
        cannot be read (RESOLVE_TRIES times) or that is too busy to reach back within HISTORY_PAGES
        pages makes the row UNCERTAIN: it is never resent on a guess, a person checks and decides.
        """
        cutoff = self._clock.now() - older_than
        async with self._sessions() as session:
            rows = (
                await session.scalars(
                    select(OutboundMessage).where(
                        OutboundMessage.status == OutboxStatus.SENDING,
                        or_(
                            OutboundMessage.sending_since <= cutoff,
                            OutboundMessage.sending_since.is_(None),
                        ),
                    )
                )
            ).all()
        settled = 0
        for row in rows:
            settled += await self._resolve_alone(row)
        if settled:
            self.wake()
        return settled

    async def _resolve_alone(self, row: OutboundMessage) -> bool:
        """Read one row back unless a send or another read-back of it is under way here."""
        if row.id in self._in_flight:
            return False
        self._in_flight.add(row.id)
        try:
            async with self._sessions() as session:  # the row as it is now, not as first selected
                fresh = await session.get(OutboundMessage, row.id)
            if fresh is None or fresh.status != OutboxStatus.SENDING:
                return False
            await self._resolve_row(fresh)
        finally:
            self._in_flight.discard(row.id)
        return True

    async def _resolve_row(self, row: OutboundMessage) -> None:
        # One read-back per chat at a time: two rows with the same text cannot both take one copy.
        lock = self._chat_locks.setdefault((row.channel, row.recipient_id), asyncio.Lock())
        try:
            async with lock:
                await self._resolve_locked(row)
        finally:
            if not lock.locked():
                self._chat_locks.pop((row.channel, row.recipient_id), None)

    async def _resolve_locked(self, row: OutboundMessage) -> None:
        values: dict[str, Any]
        started = row.sending_since or row.created_at
        # The last moment Zalo could have accepted this send: when its outcome became unknown here,
        # or, for a send of an earlier process, before this process began.
        accepted_by = self._unknown_at.get(row.id) or max(started, self._born)
        absent_after = accepted_by + self._history_lag
        try:
            found = await read_back(
                self._history, row, self._clock.now(), self._owned_elsewhere, absent_after
            )
        except Exception as exc:  # noqa: BLE001 - any failed read counts towards RESOLVE_TRIES
            log.warning("cannot read history for outbound %s: %s", row.key, exc)
            values = {"resolve_attempts": row.resolve_attempts + 1}
            if row.resolve_attempts + 1 >= RESOLVE_TRIES:
                values["status"] = OutboxStatus.UNCERTAIN
                values["error_reason"] = UNREADABLE_REASON
        else:
            log.info(
                "outbound %s read back: %s after %d history calls",
                row.key,
                found.verdict,
                found.calls,
            )
            if found.verdict is Verdict.TOO_EARLY:  # read again once the history has caught up
                self._reread_later(row, absent_after)
                return
            values = {"resolve_attempts": 0}
            if found.verdict is Verdict.FOUND:
                values |= {
                    "status": OutboxStatus.SENT,
                    "zalo_message_id": found.message_id,
                    "sent_at": row.sending_since,
                }
            elif found.verdict is Verdict.ABSENT:
                values |= {"status": OutboxStatus.PENDING, "next_attempt_at": self._clock.now()}
            else:
                values |= {"status": OutboxStatus.UNCERTAIN, "error_reason": TOO_DEEP_REASON}
        # Only the claim this read-back was about: a row claimed again since is left alone.
        same_claim = [
            OutboundMessage.id == row.id,
            OutboundMessage.status == OutboxStatus.SENDING,
            OutboundMessage.attempts == row.attempts,
            OutboundMessage.sending_since == row.sending_since
            if row.sending_since is not None
            else OutboundMessage.sending_since.is_(None),
        ]
        if values.get("zalo_message_id"):  # and a copy no other row has taken meanwhile
            other = aliased(OutboundMessage)
            same_claim.append(
                ~exists().where(
                    other.zalo_message_id == values["zalo_message_id"], other.id != row.id
                )
            )
        async with self._sessions() as session:
            await session.execute(update(OutboundMessage).where(*same_claim).values(**values))
            await session.commit()
        if values.get("status") is not None:
            self._unknown_at.pop(row.id, None)

    def _reread_later(self, row: OutboundMessage, due: datetime) -> None:
        if self._stopping or row.id in self._rereads:
            return
        task = asyncio.create_task(self._reread(row.id, due), name=f"reread:{row.key}")
        self._rereads[row.id] = task

        def forget(done: asyncio.Task[None], row_id: int = row.id) -> None:
            if self._rereads.get(row_id) is done:
                del self._rereads[row_id]

        task.add_done_callback(forget)

    async def _reread(self, row_id: int, due: datetime) -> None:
        # Waiting on the service's clock, not a fixed sleep, so a clock moved forward is followed.
        while True:
            left = (due - self._clock.now()).total_seconds()
            if left <= 0:
                break
            await asyncio.sleep(min(left, REREAD_POLL))
        self._rereads.pop(row_id, None)  # a read that is still too early may wait again
        try:
            async with self._sessions() as session:
                row = await session.get(OutboundMessage, row_id)
            if row is not None and await self._resolve_alone(row):
                self.wake()
        except Exception:
            log.exception("reading outbound %s back again", row_id)  # the sweep tries again

    async def _owned_elsewhere(self, row: OutboundMessage, message_id: str) -> bool:
        """Whether another of our rows owns this Zalo message (an earlier copy of the same text)."""
        owner = self._unrecorded.get(message_id)  # sent, its record not yet committed
        if owner is not None:
            return owner != row.id
        async with self._sessions() as session:
            other = await session.scalar(
                select(OutboundMessage.id)
                .where(OutboundMessage.zalo_message_id == message_id, OutboundMessage.id != row.id)
                .limit(1)
            )
        return other is not None


class Verdict(StrEnum):
    """What reading a chat back proved about one send."""

    FOUND = "found"  # the copy is in the chat
    ABSENT = "absent"  # the chat reaches back past the send, settled, and the copy is not there
    TOO_EARLY = "too early"  # not there yet, but the history may still be catching up
    TOO_DEEP = "too deep"  # so many messages followed that HISTORY_PAGES do not reach the send


@dataclass(frozen=True)
class ReadBack:
    """The verdict of one read-back, the message id when found, and the history calls it made."""

    verdict: Verdict
    message_id: str | None
    calls: int


async def read_back(
    history: History,
    row: OutboundMessage,
    now: datetime,
    owned_elsewhere: Callable[[OutboundMessage, str], Awaitable[bool]],
    absent_after: datetime,
) -> ReadBack:
    """Page back through the row's chat, newest first, until the send is found or the chat predates it.

    An absence is a verdict only from a read made at `absent_after` or later. Pages overlap by one
    item, so a message deleted between two calls cannot make one slip through the gap.
    """
    started = row.sending_since or row.created_at
    since_ms = int((started - CLOCK_SKEW).timestamp() * 1000)
    seen: set[str] = set()
    offset = calls = 0
    while calls < HISTORY_PAGES:
        page = await history(row, offset, HISTORY_PAGE)
        calls += 1
        reached = len(page) < HISTORY_PAGE  # a short page is the start of the conversation
        for item in page:
            message_id = str(item.get("message_id") or "")
            if message_id in seen:
                continue
            seen.add(message_id)
            if not item.get("time"):
                raise ValueError(f"history item {message_id!r} has no time")
            if int(item["time"]) < since_ms:
                reached = True
                break
            if is_sent_copy(item, row) and not await owned_elsewhere(row, message_id):
                return ReadBack(Verdict.FOUND, message_id, calls)
        if reached:
            verdict = Verdict.ABSENT if now >= absent_after else Verdict.TOO_EARLY
            return ReadBack(verdict, None, calls)
        offset += len(page) - 1
    return ReadBack(Verdict.TOO_DEEP, None, calls)


def is_sent_copy(item: dict[str, Any], row: OutboundMessage) -> bool:
    """Whether a history item is a message from the OA with the row's text."""
    return str(item.get("src")) == "0" and (item.get("message") or "") == row.text  # src 0: the OA
