"""The desk under a big commune: 1,000 hamlets, 100,000 residents, 50,000 households.

Seeds the commune of `bench/fanout.py` and adds households (50 per hamlet, two residents linked
to each, a tenth poor and a tenth near-poor), a head with a password, and one urgent firing fanned
out to every resident with a third of the copies seen. Then times the pages people open most:

- the dashboard, as the commune official;
- the campaign's page (its reach per hamlet), as the official;
- a hamlet's household list, and a firing's households there, as that hamlet's head;
- the sign-in page, signed out: the baseline every ratio is taken against, in the same run.

Each page is fetched once with the commune-wide reach counts dropped (the first view, which works
them out afresh: they are then kept a minute), then `--requests` times more over loopback; the
figures are that first view, the median and p95 of the others (time to the whole answer), and the
page's weight. Run on SQLite, and on
PostgreSQL with `--postgres URL` (the database is emptied first). Ends with one JSON line.

    .venv/bin/python bench/admin.py [--requests 30] [--postgres postgresql://loa:loa@127.0.0.1/loa_bench]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp
import fanout as bench
from aiohttp import web
from sqlalchemy import insert, select, text, update

HAMLETS = 1000
RESIDENTS = 100_000
PER_HAMLET = 50  # households
PASSWORD = "mat-khau-thu-tai"
OFFICIAL_PHONE = "0909000001"
HEAD_PHONE = "0909000002"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile (0–100) by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


async def seed_desk(url: str, now: datetime) -> None:
    """Households and their members, a password for the official, a head for hamlet 1."""
    from bot.db.engine import make_engine, make_sessionmaker
    from bot.directory.models import Staff, StaffRole
    from bot.web.passwords import hash_password
    from broadcasts.models import Household, HouseholdMember

    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    digest = hash_password(PASSWORD)
    async with sessions() as session:
        await session.execute(
            update(Staff)
            .where(Staff.zalo_user_id == bench.OFFICIAL)
            .values(phone=OFFICIAL_PHONE, password_hash=digest)
        )
        session.add(
            Staff(
                commune_id=1,
                hamlet_id=1,
                zalo_user_id="3000000000000000101",
                name="Trưởng ấp 1",
                role=StaffRole.HAMLET_HEAD,
                active=True,
                phone=HEAD_PHONE,
                password_hash=digest,
            )
        )
        households: list[dict[str, Any]] = []
        members: list[dict[str, Any]] = []
        kinds = ["poor"] + ["near_poor"] + ["other"] * 8
        for h in range(HAMLETS):
            for k in range(PER_HAMLET):
                ident = h * PER_HAMLET + k + 1
                households.append(
                    {
                        "id": ident,
                        "commune_id": 1,
                        "hamlet_id": h + 1,
                        "code": f"H{h + 1:04d}-{k + 1:02d}",
                        "head_name": f"Hộ ông bà {h + 1}-{k + 1}",
                        "address": f"Tổ {k % 5 + 1}",
                        "phone": f"09{ident:08d}",
                        "category": kinds[k % len(kinds)],
                        "updated_at": now,
                    }
                )
                # The residents of hamlet h+1 are those whose index is h modulo HAMLETS (ids from 1).
                for j in (2 * k, 2 * k + 1):
                    members.append({"household_id": ident, "resident_id": h + HAMLETS * j + 1})
        for start in range(0, len(households), 5000):
            await session.execute(insert(Household), households[start : start + 5000])
        for start in range(0, len(members), 5000):
            await session.execute(insert(HouseholdMember), members[start : start + 5000])
        await session.commit()
    if url.startswith("postgresql"):
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence('households', 'id'), "
                    "(SELECT max(id) FROM households))"
                )
            )
            await conn.execute(text("ANALYZE"))
    await engine.dispose()


async def fire_and_see(app: web.Application) -> int:
    """One urgent firing to every hamlet, fanned out, sent, a third of its copies seen."""
    from bot.keys import RUNTIME
    from bot.outbound.models import OutboundMessage, OutboxStatus
    from broadcasts.models import Broadcast, Delivery
    from broadcasts.scheduler import tick
    from broadcasts.setup import deps_for

    rt = app[RUNTIME]
    deps = deps_for(rt)
    now = rt.clock.now()
    async with rt.sessions() as session:
        campaign = await bench.fire_scam_warning(session, deps, now, HAMLETS)
        await session.commit()
        campaign_id = int(campaign.id)
    await tick(rt.sessions, deps, now)
    async with rt.sessions() as session:
        broadcast = await session.scalar(
            select(Broadcast).where(Broadcast.campaign_id == campaign_id)
        )
        assert broadcast is not None
        ids = select(Delivery.outbound_id).where(Delivery.broadcast_id == broadcast.id)
        await session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id.in_(ids))
            .values(status=OutboxStatus.SENT, sent_at=now)
        )
        await session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.id.in_(ids), OutboundMessage.id % 3 == 0)
            .values(seen_at=now)
        )
        broadcast.started_at = now
        await session.commit()
        return int(broadcast.id)


async def signed_in(base: str, phone: str) -> aiohttp.ClientSession:
    """A client holding a desk session for this phone."""
    client = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with client.get(f"{base}/admin/login") as r:
        found = _CSRF.search(await r.text())
    assert found, "no sign-in form"
    form = {"phone": phone, "password": PASSWORD, "csrf_token": found.group(1)}
    async with client.post(f"{base}/admin/login", data=form, allow_redirects=False) as r:
        assert r.status == 303, f"sign-in as {phone} answered {r.status}"
    return client


async def time_page(
    client: aiohttp.ClientSession, url: str, requests: int, cache: Any
) -> dict[str, Any]:
    """The first view (nothing kept), then the median and p95 of `requests` more, and the weight."""
    cache.clear()
    started = time.perf_counter()
    async with client.get(url, allow_redirects=False) as r:
        body = await r.read()
        assert r.status == 200, f"{url} answered {r.status}"
    first = (time.perf_counter() - started) * 1000
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        async with client.get(url, allow_redirects=False) as r:
            await r.read()
        times.append((time.perf_counter() - started) * 1000)
    return {
        "first_ms": round(first, 1),
        "median_ms": round(statistics.median(times), 1),
        "p95_ms": round(percentile(times, 95), 1),
        "kb": round(len(body) / 1024, 1),
    }


async def one_database(url: str, requests: int) -> dict[str, Any]:
    """Seed, serve and time the pages on one database."""
    from bot.app import create_app
    from bot.config import Settings
    from bot.keys import RUNTIME
    from broadcasts.setup import deps_for

    now = bench.SystemClock().now()
    started = time.perf_counter()
    await bench.reset_database(url)
    await bench.seed_database(url, HAMLETS, RESIDENTS, now)
    await seed_desk(url, now)
    port = bench.free_port()
    env = {
        **os.environ,
        "LOA_PORT": str(port),
        "LOA_DATABASE_URL": url,
        "LOA_SEED_DEMO": "0",
        "LOA_LOG_LEVEL": "WARNING",
    }
    app = create_app(Settings.from_env(env), start_jobs=False)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    base = f"http://127.0.0.1:{port}"
    try:
        firing = await fire_and_see(app)
        print(f"  seeded and fanned out in {time.perf_counter() - started:.0f} s")
        official = await signed_in(base, OFFICIAL_PHONE)
        head = await signed_in(base, HEAD_PHONE)
        anonymous = aiohttp.ClientSession()
        try:
            pages = {
                "login (baseline)": (anonymous, "/admin/login"),
                "dashboard": (official, "/admin/"),
                "campaign reach": (official, "/admin/campaigns/1"),
                "household list": (head, "/admin/households?hamlet=1"),
                "firing households": (head, f"/admin/firings/{firing}/hamlets/1"),
            }
            cache = deps_for(app[RUNTIME]).reach_cache
            figures = {
                name: await time_page(client, base + path, requests, cache)
                for name, (client, path) in pages.items()
            }
        finally:
            for client in (official, head, anonymous):
                await client.close()
    finally:
        await runner.cleanup()
    baseline = figures["login (baseline)"]["median_ms"]
    for name, f in figures.items():
        f["ratio"] = round(f["median_ms"] / baseline, 1) if baseline else None
        print(
            f"  {name:<20} first {f['first_ms']:>7.1f} ms  median {f['median_ms']:>7.1f} ms  "
            f"p95 {f['p95_ms']:>7.1f} ms  {f['kb']:>6.1f} kB  ×{f['ratio']} of the sign-in page"
        )
    return figures


async def main() -> None:
    """Run on SQLite (and PostgreSQL when asked), print, end with one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--postgres", help="a PostgreSQL URL whose database may be emptied")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    if not args.skip_sqlite:
        print("SQLite:")
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='loa-admin-')) / 'admin.db'}"
        results["sqlite"] = await one_database(url, args.requests)
    if args.postgres:
        print("PostgreSQL:")
        results["postgresql"] = await one_database(args.postgres, args.requests)
    worst_first = max(
        (f["first_ms"] for db in results.values() for n, f in db.items() if "baseline" not in n),
        default=0.0,
    )
    worst = max(
        (f["p95_ms"] for db in results.values() for n, f in db.items() if "baseline" not in n),
        default=0.0,
    )
    heaviest = max((f["kb"] for db in results.values() for f in db.values()), default=0.0)
    print(f"worst p95: {worst} ms (goal < 200 ms); heaviest page: {heaviest} kB (goal < 100 kB)")
    print(f"slowest first view (reach worked out afresh): {worst_first} ms")
    print(
        json.dumps(
            {
                "bench": "admin",
                "hamlets": HAMLETS,
                "residents": RESIDENTS,
                "households": HAMLETS * PER_HAMLET,
                "results": results,
                "worst_p95_ms": worst,
                "worst_first_ms": worst_first,
                "heaviest_kb": heaviest,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
