"""One SQLite writer at a time inside the process, queued in order instead of polling for the lock.

SQLite lets one connection write at a time. A connection that finds the lock taken sleeps in
SQLite's busy handler, in steps that grow to 25, 50 and 100 ms, and may miss the lock again when it
wakes: under load, writers spent most of their time asleep while the lock sat free, and an
acknowledged webhook waited behind them. Here every write transaction of the engine waits in an
asyncio queue from its first write statement until its commit or rollback has finished, so SQLite
never sees two writers from this process, and the inbox (whose commit a webhook answer waits for)
goes first. Other processes (the CLI) still meet SQLite's own busy timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.engine.interfaces import ExecutionContext
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

# Statements that make SQLite take its write lock (the driver opens the transaction before them).
_WRITES = re.compile(r"\s*(INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)
PRIORITY_OPTION = "loa_write_priority"  # execution option: this write jumps the queue


class WriteGate:
    """A lock with two FIFO lanes; the priority lane is served first."""

    def __init__(self) -> None:
        self._held = False
        self._priority: deque[asyncio.Future[None]] = deque()
        self._normal: deque[asyncio.Future[None]] = deque()

    @property
    def held(self) -> bool:
        """Whether some transaction holds the gate."""
        return self._held

    @property
    def waiting(self) -> int:
        """How many transactions wait for the gate."""
        return len(self._priority) + len(self._normal)

    def try_acquire(self) -> bool:
        """Take the gate if it is free and nobody queues for it."""
        if self._held or self.waiting:
            return False
        self._held = True
        return True

    async def acquire(self, *, priority: bool = False) -> None:
        """Wait for the gate (callers bound the wait, as SQLite bounds its busy wait)."""
        if self.try_acquire():
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lane = self._priority if priority else self._normal
        lane.append(future)
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled():
                self.release()  # handed to us in the instant we gave up: pass it on
            else:
                with contextlib.suppress(ValueError):
                    lane.remove(future)
            raise

    def release(self) -> None:
        """Hand the gate to the next waiter, or free it."""
        for lane in (self._priority, self._normal):
            while lane:
                future = lane.popleft()
                if not future.done():
                    future.set_result(None)  # stays held: ownership passes directly
                    return
        self._held = False


_GATES: weakref.WeakKeyDictionary[Engine, WriteGate] = weakref.WeakKeyDictionary()


def gate_of(engine: AsyncEngine) -> WriteGate | None:
    """The write gate installed on `engine`, if any."""
    return _GATES.get(engine.sync_engine)


def install_write_gate(engine: AsyncEngine, timeout: float) -> WriteGate:
    """Make every write transaction of `engine` hold one gate from its first write to its end."""
    gate = _GATES[engine.sync_engine] = WriteGate()
    holders: set[int] = set()  # ids of the DBAPI connections holding the gate
    sync_engine = engine.sync_engine
    dialect: Dialect = sync_engine.dialect

    @event.listens_for(sync_engine, "before_cursor_execute")
    def _enter(
        conn: Connection,
        cursor: Any,
        statement: str,
        parameters: Any,
        context: ExecutionContext | None,
        executemany: bool,
    ) -> None:
        dbapi = conn.connection.dbapi_connection
        if dbapi is None or id(dbapi) in holders or not _WRITES.match(statement):
            return
        if not gate.try_acquire():
            priority = bool(context is not None and context.execution_options.get(PRIORITY_OPTION))
            await_only(asyncio.wait_for(gate.acquire(priority=priority), timeout))
        holders.add(id(dbapi))

    def _leave(connection: Any) -> None:
        # The dialect is handed the pool's proxy for a commit and the bare connection for a close.
        dbapi = getattr(connection, "dbapi_connection", connection)
        if id(dbapi) in holders:
            holders.discard(id(dbapi))
            gate.release()

    # Released only once the commit or rollback itself has finished: the next writer must not
    # meet a transaction that is still ending.
    def releasing(end: Callable[[Any], None]) -> Callable[[Any], None]:
        def wrapper(dbapi_connection: Any) -> None:
            try:
                end(dbapi_connection)
            finally:
                _leave(dbapi_connection)

        return wrapper

    for name in ("do_commit", "do_rollback", "do_close", "do_terminate"):
        setattr(dialect, name, releasing(getattr(dialect, name)))
    return gate
