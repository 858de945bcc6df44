"""The fan-out alone: one urgent firing to 10,000 residents written to the outbox, nothing sent.

`bench/fanout.py` times fan-out while the outbox drains it and the sandbox answers; this script
seeds the same commune (1,000 hamlets, 100,000 residents) and times only the scheduler's tick,
with the processor and the sender stopped, so the two can be told apart. Prints each run, the
median, and one JSON line.

    .venv/bin/python bench/fanout_tick.py [--runs 3] [--hamlets 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fanout as bench
from aiohttp import web


async def one_run(target_hamlets: int) -> float:
    """Seconds the tick takes to fan one firing out to `target_hamlets` hamlets."""
    from bot.app import create_app
    from bot.config import Settings
    from bot.keys import RUNTIME
    from broadcasts.scheduler import tick
    from broadcasts.setup import deps_for

    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='loa-tick-')) / 'tick.db'}"
    await bench.reset_database(url)
    await bench.seed_database(url, 1000, 100_000, bench.SystemClock().now())
    env = {
        **os.environ,
        "LOA_PORT": str(bench.free_port()),
        "LOA_DATABASE_URL": url,
        "LOA_SEED_DEMO": "0",
        "LOA_LOG_LEVEL": "WARNING",
    }
    app = create_app(Settings.from_env(env), start_jobs=False)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        rt = app[RUNTIME]
        deps = deps_for(rt)
        async with rt.sessions() as session:
            await bench.fire_scam_warning(session, deps, rt.clock.now(), target_hamlets)
            await session.commit()
        started = time.perf_counter()
        await tick(rt.sessions, deps, rt.clock.now())
        return time.perf_counter() - started
    finally:
        await runner.cleanup()


async def main() -> None:
    """Run, print, and end with one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hamlets", type=int, default=100, help="100 hamlets: 10,000 residents")
    args = parser.parse_args()
    times = []
    for run in range(args.runs):
        seconds = await one_run(args.hamlets)
        times.append(seconds)
        print(f"run {run + 1}: tick {seconds:.2f} s ({args.hamlets * 100 / seconds:,.0f} rows/s)")
    median = statistics.median(times)
    print(f"median: {median:.2f} s")
    print(
        json.dumps({"bench": "fanout_tick", "hamlets": args.hamlets, "median_s": round(median, 3)})
    )


if __name__ == "__main__":
    asyncio.run(main())
