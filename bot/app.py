"""The one composition root: builds the service from settings and wires every part."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from functools import partial

import aiohttp
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncSession

from bot import jobs
from bot.chat import faq_desk
from bot.chat import setup as chat_setup
from bot.chat.conversation import settle_receipts
from bot.chat.faq.book import FaqBook
from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.db.engine import make_engine, make_sessionmaker
from bot.db.wal import WalCheckpointer
from bot.directory.people import default_commune
from bot.inbound.context import Context
from bot.inbound.dispatch import Dispatcher, log_unknown
from bot.inbound.events import Unknown, UserText, parse_event
from bot.inbound.inbox import InboxWriter
from bot.inbound.models import InboxEvent
from bot.inbound.processor import Handle, InboxProcessor, Settle, decode_body
from bot.inbound.webhook import zalo_webhook
from bot.keys import INBOX, RUNTIME, SETTINGS
from bot.oa.client import build_client
from bot.oa.oauth_routes import oauth_callback
from bot.oa.token_store import DbTokenStore
from bot.outbound.channels import zalo_channels
from bot.outbound.outbox import OutboxSender
from bot.outbound.replies import Replies
from bot.runtime import Runtime
from bot.sandbox.seed import seed_demo
from bot.web import account, signin, staff, start, zalo_signin
from bot.web.pages import STATIC_PATH, setup_pages
from bot.web.security import desk_headers
from bot.zalo.limiter import RateLimiter
from bot.zalo.tokens import TokenPair
from broadcasts import setup as broadcasts_setup
from broadcasts.campaigns import Deps
from broadcasts.demo import seed_demo_households

log = logging.getLogger(__name__)

ACCESS_TOKEN_LIFETIME = timedelta(hours=25)


def serves_sandbox(settings: Settings) -> bool:
    """Whether this process also plays the Zalo platform (sandbox mode, API pointed at ourselves)."""
    own = {f"http://{settings.host}:{settings.port}", f"http://localhost:{settings.port}"}
    return settings.sandbox and settings.zalo_api_base in own


def create_app(
    settings: Settings, *, clock: Clock | None = None, start_jobs: bool = True
) -> web.Application:
    """Build the aiohttp application; resources start and stop with it."""
    clock = clock or SystemClock()
    app = web.Application(client_max_size=1024 * 1024 + 1024, middlewares=[desk_headers])
    app[SETTINGS] = settings
    setup_pages(app, settings.templates_dir)
    app.router.add_get("/healthz", healthz)
    start.add_routes(app)
    app.router.add_post("/zalo/webhook", zalo_webhook)
    app.router.add_get("/zalo/oauth/callback", oauth_callback)
    app.router.add_static(STATIC_PATH, settings.templates_dir / "static")
    signin.add_routes(app)
    account.add_routes(app)
    broadcasts_setup.add_routes(app)
    staff.add_routes(app)
    faq_desk.add_routes(app)

    platform = None
    if serves_sandbox(settings):
        from bot.sandbox.api import setup_sandbox
        from bot.sandbox.platform import SandboxPlatform

        platform = SandboxPlatform(
            app_id=settings.zalo_app_id,
            app_secret=settings.zalo_app_secret,
            oa_secret_key=settings.zalo_oa_secret_key,
            oa_id=settings.zalo_oa_id,
            webhook_url=f"{settings.base_url}/zalo/webhook",
            clock=clock,
        )
        platform.seed_demo()
        setup_sandbox(app, platform)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        rt = await start_runtime(settings, clock, platform, start_jobs=start_jobs)
        app[RUNTIME] = rt
        app[INBOX] = rt.inbox
        try:
            yield
        finally:
            await stop_runtime(rt)

    app.cleanup_ctx.append(lifecycle)
    return app


async def start_runtime(
    settings: Settings, clock: Clock, platform: object | None = None, *, start_jobs: bool = True
) -> Runtime:
    """Open the database, load the FAQ, connect the Zalo client and start the background workers."""
    sqlite = settings.database_url.startswith("sqlite")
    engine = make_engine(settings.database_url, checkpoint_in_background=sqlite)
    checkpointer = WalCheckpointer(engine) if sqlite else None
    sessions = make_sessionmaker(engine)
    if settings.seed_demo:
        async with sessions() as session:
            if await seed_demo(session, clock.now()):
                commune = await default_commune(session)
                assert commune is not None, "the demo commune was just seeded"
                await seed_demo_households(session, commune.id, clock.now())
                log.info("empty database: seeded the demo commune and its households")
            await session.commit()
    faq = FaqBook()
    async with sessions() as session:
        await faq.reload_if_changed(session)
    replies = Replies(settings.templates_dir)
    announcements = broadcasts_setup.build_deps(settings, replies)  # one Jinja env per process
    dispatcher = residents_dispatcher(faq, announcements)
    http = aiohttp.ClientSession()
    limiter = RateLimiter(settings.zalo_rate_per_minute)

    zalo, tokens, store = build_client(settings, http, sessions, clock, limiter=limiter)

    send, history = zalo_channels(zalo)
    outbox = OutboxSender(
        sessions,
        clock,
        send,
        history,
        history_lag=timedelta(seconds=settings.zalo_history_lag_seconds),
    )

    inbox = InboxWriter(engine, clock)
    processor = InboxProcessor(
        sessions,
        clock,
        inbox_handler(settings, clock, replies, dispatcher),
        on_committed=outbox.wake,
        pressure=lambda: inbox.rate,
        settle=inbox_settler(clock),
    )
    inbox.on_stored = processor.submit
    if settings.log_level != "DEBUG":
        # Its INFO lines (each job added, run and done) drown the service's own: warnings only.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
    scheduler = AsyncIOScheduler(timezone="UTC")
    rt = Runtime(
        settings=settings,
        clock=clock,
        engine=engine,
        sessions=sessions,
        replies=replies,
        faq=faq,
        http=http,
        tokens=tokens,
        zalo=zalo,
        inbox=inbox,
        processor=processor,
        outbox=outbox,
        scheduler=scheduler,
        sandbox=platform,  # type: ignore[arg-type]
        checkpointer=checkpointer,
        announcements=announcements,
    )
    # The outbox's hooks need the runtime, which needs the outbox first.
    outbox.on_authorization_lost = partial(jobs.raise_auth_alert, rt)
    outbox.on_failed = partial(broadcasts_setup.on_delivery_failed, rt)
    await bootstrap_tokens(rt, store)
    inbox.start()
    if checkpointer is not None:
        checkpointer.start()
    if start_jobs:
        # After a crash every SENDING row's outcome is unknown: read them back before the sender
        # starts claiming, so no claim of this process is mistaken for one of them.
        await jobs.resolve_outbox(rt, timedelta(0))
        processor.start()
        outbox.start()
        await jobs.sweep_inbox(rt, timedelta(0))  # everything pending is nobody's now
        scheduler.add_job(jobs.sweep_inbox, "interval", seconds=30, args=[rt])
        scheduler.add_job(jobs.resolve_outbox, "interval", seconds=60, args=[rt])
        scheduler.add_job(jobs.expire_handoff_windows, "interval", minutes=5, args=[rt])
        scheduler.add_job(jobs.reload_faq, "interval", seconds=60, args=[rt])
        scheduler.add_job(jobs.check_tokens, "interval", minutes=10, args=[rt])
        broadcasts_setup.schedule(scheduler, rt)
        scheduler.start()
    log.info("%s", startup_summary(rt))
    # Everything built so far lives as long as the process: keep it out of the collector's full
    # passes, whose pauses otherwise show in the webhook's slowest answers.
    gc.freeze()
    return rt


def startup_summary(rt: Runtime) -> str:
    """One line for the operator: the database, the address, Zalo or the sandbox, the jobs."""
    settings = rt.settings
    database = make_url(settings.database_url).render_as_string(hide_password=True)
    zalo = "sandbox on" if settings.sandbox else f"sandbox off, Zalo OA {settings.zalo_oa_id}"
    if rt.sandbox is not None:
        zalo += " (served by this process)"
    jobs = [f"{job.name} {_every(job.trigger)}" for job in rt.scheduler.get_jobs()]
    return (
        f"started: database {database}; listening on {settings.host}:{settings.port} "
        f"({settings.base_url}); {zalo}; jobs: {', '.join(jobs) or 'none'}"
    )


def _every(trigger: object) -> str:
    """ "every 30s", "every 5min", "every 6h" for an interval; the trigger's own words otherwise."""
    if not isinstance(trigger, IntervalTrigger):
        return str(trigger)
    seconds = int(trigger.interval.total_seconds())
    for size, unit in ((3600, "h"), (60, "min")):
        if seconds % size == 0:
            return f"every {seconds // size}{unit}"
    return f"every {seconds}s"


def residents_dispatcher(faq: FaqBook, announcements: Deps) -> Dispatcher:
    """Every feature's handlers in the order they run: sign-in, announcements, then the chat."""
    dispatcher = Dispatcher()
    dispatcher.add(UserText, zalo_signin.on_text)  # "đăng nhập" is never an approval's answer
    broadcasts_setup.install_handlers(
        dispatcher, announcements
    )  # a head's answer is not a question
    chat_setup.install_handlers(dispatcher, faq)
    dispatcher.add(Unknown, log_unknown)
    return dispatcher


def inbox_handler(
    settings: Settings, clock: Clock, replies: Replies, dispatcher: Dispatcher
) -> Handle:
    """How the processor handles one stored event: parse it and dispatch it in an explicit context."""

    async def handle(session: AsyncSession, row: InboxEvent) -> None:
        ctx = Context(
            session,
            clock.now(),
            replies,
            settings=settings,
            inbox_id=row.id,
            received_at=row.received_at,
        )
        await dispatcher.dispatch(ctx, parse_event(decode_body(row)))

    return handle


def inbox_settler(clock: Clock) -> Settle:
    """How the processor settles a batch of receipts and echoes of our own sends in a few statements."""

    async def settle(session: AsyncSession, rows: list[InboxEvent]) -> set[int]:
        return await settle_receipts(
            session, clock.now(), {row.id: parse_event(decode_body(row)) for row in rows}
        )

    return settle


async def bootstrap_tokens(rt: Runtime, store: DbTokenStore) -> None:
    """Make sure a token pair is stored: the stored (rotated) pair wins over the environment's first pair."""
    if await store.load() is not None:
        return
    settings = rt.settings
    pair: TokenPair | None = None
    if settings.zalo_access_token and settings.zalo_refresh_token:
        pair = TokenPair(
            settings.zalo_access_token,
            settings.zalo_refresh_token,
            rt.clock.now() + ACCESS_TOKEN_LIFETIME,
        )
    elif rt.sandbox is not None:
        pair = rt.sandbox.issue_initial_tokens()
    elif settings.sandbox:
        async with rt.http.get(f"{settings.zalo_api_base}/sandbox/api/tokens/initial") as resp:
            body = await resp.json()
        pair = TokenPair(
            body["access_token"], body["refresh_token"], rt.clock.now() + ACCESS_TOKEN_LIFETIME
        )
    if pair is not None:
        await rt.tokens.install(pair)
        return
    rt.zalo_status = "not_connected"
    log.error(
        "no Zalo token pair: set ZALO_ACCESS_TOKEN/ZALO_REFRESH_TOKEN or run `loa zalo connect`"
    )


async def stop_runtime(rt: Runtime) -> None:
    """Stop workers (flushing the inbox), close connections."""
    if rt.scheduler.running:
        rt.scheduler.shutdown(wait=False)
    await rt.inbox.stop()
    await rt.processor.stop()
    await rt.outbox.stop()
    if rt.checkpointer is not None:
        await rt.checkpointer.stop()
    if rt.sandbox is not None:
        await rt.sandbox.close()
    await rt.http.close()
    await rt.engine.dispose()


async def healthz(request: web.Request) -> web.Response:
    """200 with the service's state when the database answers, 503 otherwise."""
    rt = request.app[RUNTIME]
    try:
        async with rt.sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - whatever the database says, the answer is "down"
        log.error("health check: database unreachable: %s", exc)  # noqa: TRY400 - no trace per probe
        return web.json_response({"status": "down", "database": "unreachable"}, status=503)
    if rt.tokens.lost and rt.zalo_status == "ok":
        rt.zalo_status = "authorization_lost"
    status = "ok" if rt.zalo_status == "ok" else "degraded"
    return web.json_response(
        {
            "status": status,
            "database": "ok",
            "zalo": rt.zalo_status,
            "sandbox": rt.settings.sandbox,
            "inbox_backlog": rt.processor.backlog,
        }
    )
