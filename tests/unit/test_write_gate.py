"""SQLite writes queue in the process instead of sleeping in SQLite's busy handler; the inbox goes first."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select, text

from bot.db.engine import make_engine
from bot.db.write_gate import PRIORITY_OPTION, WriteGate, gate_of


async def test_priority_waiters_go_first_and_each_lane_keeps_its_order() -> None:
    gate = WriteGate()
    await gate.acquire()
    order: list[str] = []

    async def writer(name: str, priority: bool) -> None:
        await gate.acquire(priority=priority)
        order.append(name)
        gate.release()

    arrivals = [("a", False), ("b", False), ("P1", True), ("P2", True)]
    tasks = [asyncio.create_task(writer(name, priority)) for name, priority in arrivals]
    await asyncio.sleep(0)
    assert gate.waiting == 4
    gate.release()
    await asyncio.gather(*tasks)
    assert order == ["P1", "P2", "a", "b"]
    assert not gate.held


async def test_a_writer_that_gives_up_leaves_the_queue_and_the_gate_usable() -> None:
    gate = WriteGate()
    await gate.acquire()
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(gate.acquire(), 0.01)
    assert gate.waiting == 0
    waiter = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    gate.release()
    assert not gate.held
    await asyncio.wait_for(gate.acquire(), 1)  # free again, straight away


async def test_sqlite_writers_wait_for_the_open_transaction_and_the_inbox_overtakes(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.db'}")
    gate = gate_of(engine)
    assert gate is not None
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE log (id INTEGER PRIMARY KEY, who TEXT)"))
    table_insert = text("INSERT INTO log (who) VALUES (:who)")

    async def write(who: str, priority: bool = False) -> None:
        async with engine.begin() as conn:
            stmt = (
                table_insert.execution_options(**{PRIORITY_OPTION: True})
                if priority
                else table_insert
            )
            await conn.execute(stmt, {"who": who})

    try:
        async with engine.connect() as holder:
            await holder.execute(
                table_insert, {"who": "first"}
            )  # holds the write lock, uncommitted
            waiting: list[asyncio.Task[None]] = []

            async def queued(n: int) -> None:
                while gate.waiting < n:
                    await asyncio.sleep(0.001)

            # Each writer is in the queue before the next one starts: the arrival order is known.
            for who, priority in (("broadcast-1", False), ("broadcast-2", False), ("inbox", True)):
                waiting.append(asyncio.create_task(write(who, priority)))
                await asyncio.wait_for(queued(len(waiting)), 5)
            assert not any(
                t.done() for t in waiting
            )  # queued, not failed with "database is locked"
            await holder.commit()
        await asyncio.wait_for(asyncio.gather(*waiting), 5)
        async with engine.connect() as conn:
            rows = (await conn.execute(text("SELECT who FROM log ORDER BY id"))).scalars().all()
        assert rows == ["first", "inbox", "broadcast-1", "broadcast-2"]
    finally:
        await engine.dispose()


async def test_a_failed_write_transaction_lets_the_next_one_through(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.db'}")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT UNIQUE)"))
    try:
        with pytest.raises(Exception, match="UNIQUE"):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t (v) VALUES ('x')"))
                await conn.execute(text("INSERT INTO t (v) VALUES ('x')"))
        async with engine.begin() as conn:
            await asyncio.wait_for(conn.execute(text("INSERT INTO t (v) VALUES ('y')")), 2)
        async with engine.connect() as conn:
            assert (
                await conn.execute(select(text("v")).select_from(text("t")))
            ).scalars().all() == ["y"]
    finally:
        await engine.dispose()
