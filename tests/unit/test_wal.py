"""With checkpoints moved off the commits, the background checkpointer keeps the SQLite log from growing."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.engine import make_engine
from bot.db.wal import WalCheckpointer


async def _write(path: Path, rounds: int) -> list[int]:
    """WAL sizes after each round of writes, with a checkpoint between rounds."""
    engine = make_engine(f"sqlite:///{path}", checkpoint_in_background=True)
    checkpointer = WalCheckpointer(engine)
    sizes = []
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        async with engine.connect() as reader:  # a connection stays open, as in the service
            await reader.execute(text("SELECT 1"))
            for _ in range(rounds):
                for _ in range(20):
                    async with engine.begin() as conn:
                        await conn.execute(
                            text("INSERT INTO t (v) VALUES (:v)"), [{"v": "x" * 4000}] * 50
                        )
                busy, frames, copied = await checkpointer.checkpoint()
                assert busy == 0 and frames > 0 and copied == frames  # all of the log went back
                sizes.append(Path(str(path) + "-wal").stat().st_size)
    finally:
        await engine.dispose()
    return sizes


async def test_commits_leave_the_log_to_the_checkpointer_which_copies_all_of_it(
    tmp_path: Path,
) -> None:
    sizes = await _write(tmp_path / "wal.db", rounds=4)
    # Each round writes about 4 MB. Without automatic checkpoints the log would grow by that much
    # each round; since each round starts on a fully copied log, it is reused from the start instead.
    assert max(sizes) < 2 * sizes[0]


async def test_the_service_engine_does_not_checkpoint_in_commits(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}", checkpoint_in_background=True)
    plain = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    try:
        async with engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar() == 0
        async with plain.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar() == 1000
    finally:
        await engine.dispose()
        await plain.dispose()


@contextlib.asynccontextmanager
async def _log_db(path: Path) -> AsyncIterator[AsyncEngine]:
    """A service-style engine on a fresh database with one table."""
    engine = make_engine(f"sqlite:///{path}", checkpoint_in_background=True)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        yield engine
    finally:
        await engine.dispose()


async def _fill(engine: AsyncEngine, rows: int) -> None:
    async with engine.begin() as conn:
        await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "x" * 4000}] * rows)


async def test_a_long_log_starts_over_once_the_last_reader_of_old_frames_is_gone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "restart.db"
    async with _log_db(path) as engine:
        checkpointer = WalCheckpointer(engine, restart_after_frames=50)
        await _fill(engine, 20)
        # A reader in another connection holds its snapshot while writes go on, as the service's
        # sessions always do somewhere under load: no checkpoint can copy the frames after it.
        reader = sqlite3.connect(path)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM t").fetchone()
        await _fill(engine, 100)
        busy, frames, copied = await checkpointer.tick()
        assert busy == 1 and copied < frames  # the restart waited briefly and gave up
        assert checkpointer.restarts == 0
        await _fill(engine, 1)  # the gate was handed back: writers go on
        reader.commit()
        reader.close()

        busy, frames, copied = await checkpointer.tick()
        assert busy == 0 and copied == frames >= 100
        assert checkpointer.restarts == 1
        await _fill(engine, 1)
        # The next commit wrote at the start of the log instead of after its hundred-odd frames.
        assert (await checkpointer.checkpoint())[1] < 10


async def test_a_short_log_is_left_to_passive_checkpoints(tmp_path: Path) -> None:
    async with _log_db(tmp_path / "short.db") as engine:
        checkpointer = WalCheckpointer(engine, restart_after_frames=1000)
        await _fill(engine, 20)
        busy, frames, copied = await checkpointer.tick()
        assert busy == 0 and 0 < frames < 1000 and copied == frames
        assert checkpointer.restarts == 0


async def test_stopping_leaves_an_empty_log_while_a_connection_is_still_open(
    tmp_path: Path,
) -> None:
    path = tmp_path / "stop.db"
    async with _log_db(path) as engine:
        checkpointer = WalCheckpointer(engine)
        await _fill(engine, 20)
        checkpointer.start()
        async with engine.connect() as other:  # e.g. a request still being answered
            await other.execute(text("SELECT 1"))
            await checkpointer.stop()
            assert Path(str(path) + "-wal").stat().st_size == 0
            assert (await other.execute(text("SELECT count(*) FROM t"))).scalar() == 20
