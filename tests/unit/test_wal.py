"""With checkpoints moved off the commits, the background checkpointer keeps the SQLite log from growing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from bot.db import make_engine
from bot.wal import WalCheckpointer


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
                        await conn.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "x" * 4000}] * 50)
                busy, frames, copied = await checkpointer.checkpoint()
                assert busy == 0 and frames > 0 and copied == frames  # all of the log went back
                sizes.append(Path(str(path) + "-wal").stat().st_size)
    finally:
        await engine.dispose()
    return sizes


async def test_commits_leave_the_log_to_the_checkpointer_which_copies_all_of_it(tmp_path: Path) -> None:
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
