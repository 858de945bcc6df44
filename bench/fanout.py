"""Broadcast fan-out: throughput and memory with the rate limit raised, and utilisation at Zalo's real limit.

This process plays Zalo: a sandbox platform with 1,000 hamlet groups and 100,000 residents (all of whom
wrote to the OA yesterday, so Zalo lets the OA reach them 1:1), served on loopback. The service runs in a
fresh child process per run, on a database seeded directly, so its peak RSS is its own:

1. Rate limit raised (10^6/min in the service, 10^7/min in the sandbox): an urgent campaign to 10k and then
   100k residents (plus one post per hamlet group); deliveries/s of fan-out + outbox drain + the sandbox
   answering (echoes and receipts included), and the child's peak RSS. Repeated `--runs` times.
2. Real limit (4,000/min): the same broadcast to everyone; over a `--window`-second window, sends accepted
   by the sandbox per minute / 4,000, while residents keep asking questions through the signed webhook;
   reply latency from the resident's message to the OA's reply arriving at the sandbox. Also the longest
   pause in accepted sends, calls the sandbox answered -32, and how late each process's event loop ran;
   while sends pause for over 3 s, the service writes every thread's stack to its log (SIGUSR1).

Prints figures per run, medians and ratios, and ends with one JSON line.

    .venv/bin/python bench/fanout.py [--database-url sqlite:///... | postgresql://...] [--runs 1]
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import gc
import itertools
import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aiohttp import web  # noqa: E402
from sqlalchemy import func, insert, select, text  # noqa: E402

from bot.chat.faq.loader import seed_if_empty  # noqa: E402
from bot.clock import SystemClock  # noqa: E402
from bot.config import (  # noqa: E402
    SANDBOX_APP_ID,
    SANDBOX_APP_SECRET,
    SANDBOX_OA_ID,
    SANDBOX_OA_SECRET_KEY,
)
from bot.db.engine import make_engine, make_sessionmaker  # noqa: E402
from bot.directory.models import Commune, Hamlet, Resident, Staff, StaffRole  # noqa: E402
from bot.inbound.models import InboxEvent, InboxStatus  # noqa: E402
from bot.outbound.models import OutboundMessage, OutboxStatus  # noqa: E402
from bot.sandbox.api import create_sandbox_app  # noqa: E402
from bot.sandbox.platform import SandboxPlatform  # noqa: E402

OFFICIAL = "3000000000000000007"
RESIDENT_BASE = 4_200_000_000_000_000_000
GROUP_BASE = 5_200_000_000_000_000_000
QUESTIONS = (
    "hộ cận nghèo vay vốn lãi suất bao nhiêu",
    "thẻ bhyt hộ nghèo có mất tiền không",
    "vneid là gì",
    "làm mất thẻ bhyt thì sao",
    "hộ nghèo được hỗ trợ tiền điện không",
)


def resident_id(i: int) -> str:
    """The Zalo id of synthetic resident i."""
    return str(RESIDENT_BASE + i)


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------ the database


async def reset_database(url: str) -> None:
    """An empty, migrated database."""
    from bot.db.migrate import upgrade_async

    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    else:
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
        await engine.dispose()
    await upgrade_async(url)


async def seed_database(url: str, hamlets: int, residents: int, now: datetime) -> None:
    """Commune, hamlets with their groups, residents who wrote yesterday, the official, the FAQ."""
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    recent = now - timedelta(days=1)
    async with sessions() as session:
        session.add(
            Commune(id=1, slug="bench", name="Xã Thử Tải", hamlet_word="ấp", created_at=now)
        )
        await session.flush()
        await session.execute(
            insert(Hamlet),
            [
                {
                    "id": h + 1,
                    "commune_id": 1,
                    "name": f"Ấp {h + 1}",
                    "language": "vi",
                    "group_id": str(GROUP_BASE + h),
                }
                for h in range(hamlets)
            ],
        )
        rows: list[dict[str, Any]] = []
        for i in range(residents):
            rows.append(
                {
                    "zalo_user_id": resident_id(i),
                    "display_name": f"Cư dân {i}",
                    "commune_id": 1,
                    "hamlet_id": i % hamlets + 1,
                    "is_follower": True,
                    "last_interaction_at": recent,
                    "opted_out": False,
                    "created_at": now,
                }
            )
            if len(rows) == 5000:
                await session.execute(insert(Resident), rows)
                rows = []
        if rows:
            await session.execute(insert(Resident), rows)
        session.add(
            Resident(
                zalo_user_id=OFFICIAL,
                display_name="Cán bộ",
                commune_id=1,
                is_follower=True,
                last_interaction_at=recent,
                opted_out=False,
                created_at=now,
            )
        )
        session.add(
            Staff(
                commune_id=1,
                zalo_user_id=OFFICIAL,
                name="Cán bộ",
                role=StaffRole.OFFICIAL,
                active=True,
            )
        )
        await seed_if_empty(session, now)
        await session.commit()
    if url.startswith("postgresql"):
        async with engine.begin() as conn:
            for table in ("hamlets", "residents"):
                await conn.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"
                    )
                )
            await conn.execute(text("ANALYZE"))
    await engine.dispose()


# ------------------------------------------------------------------------------ the sandbox (this process)


class Zalo:
    """The sandbox platform with counters of accepted sends and of replies to residents' questions."""

    def __init__(self, hamlets: int, residents: int) -> None:
        self.platform = SandboxPlatform(
            app_id=SANDBOX_APP_ID,
            app_secret=SANDBOX_APP_SECRET,
            oa_secret_key=SANDBOX_OA_SECRET_KEY,
            oa_id=SANDBOX_OA_ID,
            webhook_url="",
            clock=SystemClock(),
        )
        now = self.platform.clock.now()
        for i in range(residents):
            self.platform.add_user(
                resident_id(i), f"Cư dân {i}", last_interaction=now - timedelta(days=1)
            )
        self.platform.add_user(OFFICIAL, "Cán bộ", last_interaction=now - timedelta(days=1))
        members: list[list[str]] = [[] for _ in range(hamlets)]
        for i in range(residents):
            members[i % hamlets].append(resident_id(i))
        for h in range(hamlets):
            self.platform.add_group(
                str(GROUP_BASE + h), f"Ấp {h + 1}", members[h], asset_type="gmf1000"
            )
        self.accepted: list[float] = []  # monotonic times of accepted sends
        self.asked: dict[str, float] = {}  # resident -> when their question left the phone
        self.latencies: list[float] = []
        send_cs, send_group = self.platform.api_send_cs, self.platform.api_send_group

        def counted_cs(body: Any) -> Any:
            result = send_cs(body)
            at = time.monotonic()
            self.accepted.append(at)
            user = str(body["recipient"]["user_id"])
            if user in self.asked and "/l/" not in str(body["message"].get("text", "")):
                self.latencies.append(at - self.asked.pop(user))
            return result

        def counted_group(body: Any) -> Any:
            result = send_group(body)
            self.accepted.append(time.monotonic())
            return result

        self.platform.api_send_cs = counted_cs  # type: ignore[method-assign]
        self.platform.api_send_group = counted_group  # type: ignore[method-assign]
        self.rate_limited: list[float] = []  # monotonic times of calls answered -32
        count_call = self.platform.count_call

        def counted_call() -> int:
            remain = count_call()
            if remain < 0:
                self.rate_limited.append(time.monotonic())
            return remain

        self.platform.count_call = counted_call  # type: ignore[method-assign]

    def reset(self, webhook_url: str, per_minute: int) -> dict[str, str]:
        """Forget what earlier runs sent; return a fresh token pair for the next service."""
        for chat in self.platform.chats.values():
            chat.clear()
        for group in self.platform.groups.values():
            group.messages.clear()
        self.platform.deliveries.clear()
        self.platform._events.clear()
        self.platform.webhook_url = webhook_url
        self.platform.set_rate_limit(per_minute)  # the raised-limit run's calls must not count here
        self.accepted.clear()
        self.rate_limited.clear()
        self.asked.clear()
        self.latencies.clear()
        pair = self.platform.issue_initial_tokens()
        return {"ZALO_ACCESS_TOKEN": pair.access_token, "ZALO_REFRESH_TOKEN": pair.refresh_token}


class LoopLag:
    """How late a short timer fires on this process's event loop, and its longest garbage collection.

    With a `watchdog` file, a loop stuck for 2 s has every thread's Python stack written there.
    """

    EVERY = 0.05  # seconds
    REPORT = 0.25  # seconds: later than this is a stall worth a line

    def __init__(
        self, on_stall: Callable[[float], None] | None = None, watchdog: TextIO | None = None
    ) -> None:
        self.max_lag = 0.0
        self.max_gc = 0.0
        self._on_stall = on_stall  # told the lag of each stall over REPORT
        self._watchdog = watchdog
        self._gc_began = 0.0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start probing in the background."""
        gc.callbacks.append(self._gc)
        self._task = asyncio.create_task(self._run())

    def stop(self) -> None:
        """Stop probing."""
        gc.callbacks.remove(self._gc)
        if self._watchdog is not None:
            faulthandler.cancel_dump_traceback_later()
        if self._task is not None:
            self._task.cancel()

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._gc_began = time.perf_counter()
        else:
            self.max_gc = max(self.max_gc, time.perf_counter() - self._gc_began)

    async def _run(self) -> None:
        while True:
            before = time.monotonic()
            if self._watchdog is not None:
                faulthandler.dump_traceback_later(2.0, file=self._watchdog)
            await asyncio.sleep(self.EVERY)
            lag = time.monotonic() - before - self.EVERY
            self.max_lag = max(self.max_lag, lag)
            if lag > self.REPORT and self._on_stall is not None:
                self._on_stall(lag)


async def signal_on_stall(zalo: Zalo, child: int) -> None:
    """While sends pause for over 3 s, have the service write every thread's stack to its log each second."""
    while True:
        await asyncio.sleep(0.5)
        if zalo.accepted and time.monotonic() - zalo.accepted[-1] > 3.0:
            os.kill(child, signal.SIGUSR1)
            await asyncio.sleep(0.5)


def longest_gap(times: list[float], start: float, end: float) -> tuple[float, float]:
    """The longest pause between consecutive times within [start, end], and when it began (from start)."""
    inside = [start, *(t for t in times if start <= t <= end), end]
    gap, at = max((b - a, a - start) for a, b in itertools.pairwise(inside))
    return gap, at


def child_env(
    url: str, sandbox_port: int, port: int, rate: int, tokens: dict[str, str]
) -> dict[str, str]:
    """Environment of a `--role service` child."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZALO_", "LOA_"))}
    env.update(
        LOA_PORT=str(port),
        LOA_DATABASE_URL=url,
        LOA_SEED_DEMO="0",
        LOA_LOG_LEVEL="WARNING",
        ZALO_API_BASE=f"http://127.0.0.1:{sandbox_port}",
        ZALO_OAUTH_BASE=f"http://127.0.0.1:{sandbox_port}",
        ZALO_RATE_PER_MINUTE=str(rate),
        PYTHONPATH=str(REPO),
        **tokens,
    )
    return env


async def start_child(env: dict[str, str], hamlets: int, log: Path) -> subprocess.Popen[bytes]:
    """Start the service child; it prints one JSON line when its broadcast is drained."""
    with open(log, "ab") as err:
        return subprocess.Popen(
            [sys.executable, __file__, "--role", "service", "--target-hamlets", str(hamlets)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=err,
        )


async def wait_child(proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    """The child's JSON line, once it exits."""
    out, _ = await asyncio.to_thread(proc.communicate)
    if proc.returncode != 0:
        raise SystemExit(f"service child failed ({proc.returncode}); see its log")
    return dict(json.loads(out.decode().strip().splitlines()[-1]))


async def unlimited_run(
    zalo: Zalo, url: str, port: int, hamlets: int, residents: int, target: int, log: Path
) -> dict[str, Any]:
    """One broadcast to `target` residents with the rate limit out of the way."""
    await reset_database(url)
    await seed_database(url, hamlets, residents, SystemClock().now())
    svc_port = free_port()
    tokens = zalo.reset(f"http://127.0.0.1:{svc_port}/zalo/webhook", 10**7)
    per_hamlet = residents // hamlets
    target_hamlets = max(1, target // per_hamlet)
    proc = await start_child(child_env(url, port, svc_port, 1_000_000, tokens), target_hamlets, log)
    result = await wait_child(proc)
    zalo.platform.webhook_url = ""  # the service is gone: receipts still due go nowhere, quietly
    result["accepted_by_sandbox"] = len(zalo.accepted)
    await zalo.platform.wait_idle()
    return result


async def limited_run(
    zalo: Zalo,
    url: str,
    port: int,
    hamlets: int,
    residents: int,
    window: float,
    qps: float,
    log: Path,
) -> dict[str, Any]:
    """The broadcast to everyone at 4,000/min while residents ask questions; measured over `window` seconds."""
    await reset_database(url)
    await seed_database(url, hamlets, residents, SystemClock().now())
    svc_port = free_port()
    tokens = zalo.reset(f"http://127.0.0.1:{svc_port}/zalo/webhook", 4000)
    log_from = log.stat().st_size if log.exists() else 0
    proc = await start_child(child_env(url, port, svc_port, 4000, tokens), hamlets, log)
    stacks = open(
        log.with_name("bench-stacks.log"), "a", encoding="utf-8"
    )  # open while the run lasts
    probe = LoopLag(watchdog=stacks)
    probe.start()
    try:
        while not zalo.accepted:  # wait for the drain to begin
            if proc.poll() is not None:
                raise SystemExit("service child exited early; see its log")
            await asyncio.sleep(0.05)
        await asyncio.sleep(5.0)  # warm-up: the limiter's burst and start-up out of the window
        rng = random.Random(7)
        start, start_wall = time.monotonic(), time.time()
        watch = asyncio.create_task(signal_on_stall(zalo, proc.pid))
        first = len(zalo.accepted)
        pending: set[asyncio.Task[Any]] = set()
        asked = 0
        while time.monotonic() - start < window:
            user = resident_id(rng.randrange(residents))
            if user not in zalo.asked:
                zalo.asked[user] = time.monotonic()
                task = asyncio.create_task(
                    zalo.platform.user_send_text(user, rng.choice(QUESTIONS))
                )
                pending.add(task)
                task.add_done_callback(pending.discard)
                asked += 1
            await asyncio.sleep(rng.expovariate(qps))
        elapsed = time.monotonic() - start
        sent = sum(1 for at in zalo.accepted[first:] if at <= start + elapsed)
        deadline = time.monotonic() + 10
        while zalo.asked and time.monotonic() < deadline:  # the last questions' answers
            await asyncio.sleep(0.05)
    finally:
        zalo.platform.webhook_url = ""  # receipts still due after the window go nowhere, quietly
        proc.terminate()
        await asyncio.to_thread(proc.wait)
        probe.stop()
        stacks.close()
        watch.cancel()
    per_minute = sent / elapsed * 60
    lat = sorted(zalo.latencies)
    gap, gap_at = longest_gap(zalo.accepted, start, start + elapsed)
    with open(log, encoding="utf-8", errors="replace") as service_log:
        service_log.seek(log_from)
        # Lines read "loop lag <seconds> s at <wall-clock time the stall began>".
        service_stalls = [
            (float(words[2]), float(words[5]) - start_wall)
            for words in (line.split() for line in service_log if line.startswith("loop lag "))
        ]
    service_lag, service_lag_at = max(service_stalls, default=(0.0, 0.0))
    return {
        "window_s": round(elapsed, 1),
        "accepted_in_window": sent,
        "per_minute": round(per_minute),
        "utilisation": round(per_minute / 4000, 4),
        "questions": asked,
        "answered": len(lat),
        "unanswered": len(zalo.asked),
        "reply_p50_ms": round(percentile(lat, 50) * 1000, 1) if lat else None,
        "reply_p99_ms": round(percentile(lat, 99) * 1000, 1) if lat else None,
        "reply_max_ms": round(lat[-1] * 1000, 1) if lat else None,
        "longest_send_gap_ms": round(gap * 1000),
        "rate_limited_in_window": sum(
            1 for at in zalo.rate_limited if start <= at <= start + elapsed
        ),
        "rate_limited_before_window": sum(1 for at in zalo.rate_limited if at < start),
        "longest_send_gap_at_s": round(gap_at, 1),
        "bench_loop_max_lag_ms": round(probe.max_lag * 1000),
        "bench_gc_max_ms": round(probe.max_gc * 1000),
        "service_loop_stalls": len(service_stalls),
        "service_loop_max_lag_ms": round(service_lag * 1000),
        "service_loop_max_lag_at_s": round(service_lag_at, 1),
    }


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted values."""
    k = max(0, min(len(values) - 1, round(p / 100 * len(values) + 0.5) - 1))
    return values[k]


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """Run both parts and print their figures; return the summary."""
    tmp = Path(tempfile.mkdtemp(prefix="loa-fanout-"))
    url = args.database_url or f"sqlite:///{tmp / 'fanout.db'}"
    log = tmp / "service.log"
    print(f"database {url.split('@')[-1]}; service logs in {log}")
    t0 = time.perf_counter()
    zalo = Zalo(args.hamlets, args.residents)
    print(
        f"sandbox: {args.residents:,} residents, {args.hamlets:,} groups ({time.perf_counter() - t0:.1f}s)"
    )
    port = free_port()
    runner = web.AppRunner(create_sandbox_app(zalo.platform), shutdown_timeout=1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    summary: dict[str, Any] = {"bench": "fanout", "database": url.split(":", 1)[0]}
    try:
        sizes = [int(s) for s in args.sizes.split(",")]
        per_size: dict[int, list[dict[str, Any]]] = {n: [] for n in sizes}
        if not args.skip_unlimited:
            print("\n1. rate limit raised: fan-out + drain + sandbox answering")
            for run in range(args.runs):
                for n in sizes:
                    r = await unlimited_run(zalo, url, port, args.hamlets, args.residents, n, log)
                    per_size[n].append(r)
                    print(
                        f"  run {run + 1} {r['deliveries']:>7,} deliveries: {r['total_s']:7.1f}s "
                        f"{r['per_second']:7.0f}/s (fan-out {r['fanout_s']:.1f}s), peak RSS {r['maxrss_mb']:.0f} MB, "
                        f"sent {r['sent']:,}, accepted by sandbox {r['accepted_by_sandbox']:,}"
                    )
                    print(
                        f"      {r['events']:,} receipts and echoes all handled {r['tracking_s']:.1f}s after the start "
                        f"({r['events_per_second']:.0f}/s)"
                    )
            med = {
                n: {
                    "deliveries": rs[0]["deliveries"],
                    "per_second": round(statistics.median(r["per_second"] for r in rs), 1),
                    "fanout_per_second": round(
                        statistics.median(r["fanout_per_second"] for r in rs), 1
                    ),
                    "maxrss_mb": round(statistics.median(r["maxrss_mb"] for r in rs), 1),
                    "events_per_second": round(
                        statistics.median(r["events_per_second"] for r in rs), 1
                    ),
                }
                for n, rs in per_size.items()
            }
            small, large = med[sizes[0]], med[sizes[-1]]
            memory_ratio = round(large["maxrss_mb"] / small["maxrss_mb"], 3)
            rate_ratio = round(large["per_second"] / small["per_second"], 3)
            print("  medians:")
            for n in sizes:
                m = med[n]
                print(
                    f"    {n:>7,}: {m['per_second']:7.0f} deliveries/s, peak RSS {m['maxrss_mb']:.0f} MB, "
                    f"receipts handled {m['events_per_second']:.0f}/s"
                )
            print(
                f"  peak RSS {sizes[-1]:,} / {sizes[0]:,}: {memory_ratio}; deliveries/s ratio {rate_ratio}"
            )
            summary["unlimited"] = {str(n): m for n, m in med.items()}
            summary["memory_ratio"] = memory_ratio
            summary["rate_ratio"] = rate_ratio
        if not args.skip_limited:
            print(
                f"\n2. real limit 4,000/min, {args.window:.0f}s window, questions at {args.qps}/s"
            )
            r = await limited_run(
                zalo, url, port, args.hamlets, args.residents, args.window, args.qps, log
            )
            print(
                f"  accepted {r['accepted_in_window']:,} in {r['window_s']}s = {r['per_minute']:,}/min, "
                f"utilisation {r['utilisation']:.1%}"
            )
            print(
                f"  replies: {r['answered']}/{r['questions']} answered, p50 {r['reply_p50_ms']} ms, "
                f"p99 {r['reply_p99_ms']} ms, max {r['reply_max_ms']} ms"
            )
            print(
                f"  longest pause in sends {r['longest_send_gap_ms']} ms ({r['longest_send_gap_at_s']}s into the "
                f"window); event loop late by at most {r['bench_loop_max_lag_ms']} ms here (longest GC "
                f"{r['bench_gc_max_ms']} ms), "
                f"{r['service_loop_max_lag_ms']} ms in the service ({r['service_loop_stalls']} stalls over "
                f"{LoopLag.REPORT * 1000:.0f} ms)"
            )
            print(
                f"  calls answered -32 (over the limit): {r['rate_limited_in_window']} in the window, "
                f"{r['rate_limited_before_window']} before it"
            )
            summary["limited"] = r
    finally:
        await runner.cleanup()
        await zalo.platform.close()
    return summary


# ------------------------------------------------------------------------------ the service (child process)


async def fire_scam_warning(session: Any, deps: Any, now: datetime, target_hamlets: int) -> Any:
    """The benches' broadcast: an urgent scam warning from the official to the first hamlets."""
    from broadcasts.campaigns import CampaignRequest, create_campaign

    official = await session.scalar(select(Staff).where(Staff.zalo_user_id == OFFICIAL))
    assert official is not None
    return await create_campaign(
        session,
        CampaignRequest(
            title="Cảnh báo lừa đảo",
            template="canh-bao-lua-dao",
            variables={
                "scam": "Có người gọi điện xưng là cán bộ xã, bảo bà con đọc mã OTP để nhận tiền hỗ trợ",
                "contact": "Công an xã, 0276 3 812 345",
            },
            author_staff_id=official.id,
            hamlet_ids=list(range(1, target_hamlets + 1)),
            urgent=True,
            skip_approval=True,
        ),
        deps,
        now,
    )


async def service(target_hamlets: int) -> dict[str, Any]:
    """Run the service, fire one urgent campaign to the first `target_hamlets` hamlets, wait for the drain."""
    from bot.app import create_app
    from bot.config import Settings
    from bot.keys import RUNTIME
    from broadcasts.models import Broadcast, Campaign, Delivery, Status
    from broadcasts.scheduler import tick
    from broadcasts.setup import deps_for

    settings = Settings.from_env(os.environ)
    # Stalls go to the log with wall-clock times, which the bench lines up with its own window.
    lag_probe = LoopLag(
        lambda lag: print(
            f"loop lag {lag:.3f} s at {time.time() - lag:.2f}", file=sys.stderr, flush=True
        ),
        watchdog=sys.stderr,
    )
    lag_probe.start()
    # The bench's call when sends pause: every thread's stack to the log.
    faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)
    app = create_app(settings, start_jobs=False)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.port).start()
    rt = app[RUNTIME]
    rt.processor.start()
    rt.outbox.start()
    deps = deps_for(rt)
    async with rt.sessions() as session:
        campaign = await fire_scam_warning(session, deps, rt.clock.now(), target_hamlets)
        await session.commit()
        campaign_id = campaign.id
    started = time.perf_counter()
    # The tick starts the firing and fans it out; the outbox drains each chunk as it commits.
    await tick(rt.sessions, deps, rt.clock.now())
    fanned = time.perf_counter()
    async with rt.sessions() as session:
        broadcast = await session.scalar(
            select(Broadcast).where(Broadcast.campaign_id == campaign_id)
        )
        assert broadcast is not None and broadcast.fanned_out
        broadcast_id = broadcast.id
    unsettled = [OutboxStatus.PENDING, OutboxStatus.SENDING]
    while True:
        async with rt.sessions() as session:
            left = await session.scalar(
                select(func.count())
                .select_from(Delivery)
                .join(OutboundMessage, OutboundMessage.id == Delivery.outbound_id)
                .where(Delivery.broadcast_id == broadcast_id, OutboundMessage.status.in_(unsettled))
            )
        if not left:
            break
        await asyncio.sleep(0.2)
    done = time.perf_counter()
    # Receipts and echoes wait while the drain floods the webhook; time until every one is handled.
    seen_total = -1
    while True:
        async with rt.sessions() as session:
            total = await session.scalar(select(func.count()).select_from(InboxEvent))
            pending = await session.scalar(
                select(func.count())
                .select_from(InboxEvent)
                .where(InboxEvent.status == InboxStatus.PENDING)
            )
        if not pending and total == seen_total:
            break
        seen_total = total or 0
        await asyncio.sleep(1.0)
    async with rt.sessions() as session:
        last_handled = await session.scalar(select(func.max(InboxEvent.processed_at)))
    tracked = (
        time.perf_counter() - (rt.clock.now() - last_handled).total_seconds()
        if last_handled
        else done
    )
    async with rt.sessions() as session:
        counts = dict(
            (
                await session.execute(
                    select(OutboundMessage.status, func.count())
                    .join(Delivery, Delivery.outbound_id == OutboundMessage.id)
                    .where(Delivery.broadcast_id == broadcast_id)
                    .group_by(OutboundMessage.status)
                )
            ).all()
        )
        campaign_row = await session.get(Campaign, campaign_id)
        assert campaign_row is not None and campaign_row.status == Status.SENDING
    backlog = rt.processor.backlog
    await runner.cleanup()
    deliveries = sum(counts.values())
    return {
        "deliveries": deliveries,
        "sent": counts.get(OutboxStatus.SENT, 0),
        "not_sent": deliveries - counts.get(OutboxStatus.SENT, 0),
        "fanout_s": round(fanned - started, 2),
        "fanout_per_second": round(deliveries / (fanned - started), 1),
        "total_s": round(done - started, 2),
        "per_second": round(deliveries / (done - started), 1),
        "maxrss_mb": round(peak_rss_mb(), 1),
        "events": seen_total,
        "tracking_s": round(tracked - started, 2),
        "events_per_second": round(seen_total / (tracked - started), 1),
        "inbox_backlog_at_end": backlog,
    }


def peak_rss_mb() -> float:
    """This process's own peak resident memory.

    Linux's ru_maxrss for a child started by fork and exec also counts the parent's memory at the
    fork (here the sandbox's 100,000 residents), so the address space's own high-water mark is read.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--database-url", default="", help="default: a SQLite file in a temporary folder"
    )
    p.add_argument("--hamlets", type=int, default=1000)
    p.add_argument("--residents", type=int, default=100_000)
    p.add_argument(
        "--sizes", default="10000,100000", help="recipients per run with the limit raised"
    )
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--window", type=float, default=60.0, help="seconds measured at the real limit")
    p.add_argument(
        "--qps", type=float, default=2.0, help="residents' questions per second during the drain"
    )
    p.add_argument("--skip-unlimited", action="store_true")
    p.add_argument("--skip-limited", action="store_true")
    p.add_argument("--role", default="bench", choices=["bench", "service"], help=argparse.SUPPRESS)
    p.add_argument("--target-hamlets", type=int, default=0, help=argparse.SUPPRESS)
    return p.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.role == "service" and os.environ.get("FANOUT_PROFILE"):
        import cProfile

        with cProfile.Profile() as profile:
            figures = asyncio.run(service(arguments.target_hamlets))
        profile.dump_stats(os.environ["FANOUT_PROFILE"])
        print(json.dumps(figures))
    elif arguments.role == "service":
        print(json.dumps(asyncio.run(service(arguments.target_hamlets))))
    else:
        print(json.dumps(asyncio.run(main(arguments)), ensure_ascii=False))
