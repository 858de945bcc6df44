"""Running the whole service on loopback, in this process or as a real `loa serve` process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bot.app import create_app
from bot.clock import Clock, FakeClock
from bot.config import Settings
from bot.keys import RUNTIME
from bot.runtime import Runtime
from bot.sandbox.platform import SandboxPlatform

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def eventually(
    check: Callable[[], Any], *, timeout: float = 10.0, what: str = "condition"
) -> Any:
    """Poll for an outcome in another process (a `loa serve` child, Chromium), failing after `timeout` s.

    In-process tests await `Service.settled()` instead: only another process cannot be awaited.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


@dataclass
class Service:
    """The service running in this process with its in-process sandbox platform."""

    base_url: str
    runtime: Runtime
    platform: SandboxPlatform

    def oa_texts(self, user_id: str) -> list[str]:
        """Texts the OA sent this user, as the sandbox phone shows them."""
        return [m.text for m in self.platform.chats.get(user_id, []) if m.from_oa]

    async def settled(self) -> None:
        """Wait until every stored event is handled and every queued message has left.

        Awaited, not polled: the sandbox's delayed events, the processor, then the outbox (what is
        due now is claimed here too), round after round, until a round finds nothing to do. Work
        that cannot finish at the clock's time (a retry's backoff, a read-back waiting out the
        history's lag) fails at once, naming it.
        """
        rt = self.runtime
        for _ in range(200):
            # A round is quiet only if nothing was under way when it began and nothing started in
            # it: what finished meanwhile (a failed send's alert hook, say) may have queued more.
            was_busy = self.platform.busy or rt.outbox.busy or not rt.processor.idle
            await self.platform.wait_idle()
            await asyncio.wait_for(rt.processor.wait_idle(), timeout=30)
            started = await rt.outbox.drain_once()
            # The sender's own loop may have claimed meanwhile: its sends (and their hooks) too.
            was_busy = was_busy or rt.outbox.busy
            await rt.outbox.wait_idle()
            if not (
                was_busy or started or self.platform.busy or rt.outbox.busy or not rt.processor.idle
            ):
                open_work = await self._open_work()
                if open_work:
                    raise AssertionError(f"the service cannot settle; still open: {open_work}")
                return
        raise AssertionError(f"the service kept working; still open: {await self._open_work()}")

    async def _open_work(self) -> list[tuple[object, ...]]:
        from sqlalchemy import select

        from bot.inbound.models import InboxEvent, InboxStatus
        from bot.outbound.models import OutboundMessage, OutboxStatus

        async with self.runtime.sessions() as session:
            inbox = (
                await session.execute(
                    select(
                        InboxEvent.id, InboxEvent.event_name, InboxEvent.attempts, InboxEvent.error
                    ).where(InboxEvent.status == InboxStatus.PENDING)
                )
            ).all()
            outbox = (
                await session.execute(
                    select(
                        OutboundMessage.key,
                        OutboundMessage.status,
                        OutboundMessage.error_code,
                        OutboundMessage.next_attempt_at,
                    ).where(
                        OutboundMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.SENDING])
                    )
                )
            ).all()
        return [tuple(r) for r in inbox] + [tuple(r) for r in outbox]


@asynccontextmanager
async def running_service(
    database_url: str,
    *,
    clock: Clock | None = None,
    env: dict[str, str] | None = None,
    start_jobs: bool = True,
) -> AsyncIterator[Service]:
    """`create_app` on a free loopback port, in sandbox mode with the platform in-process."""
    port = free_port()
    settings = Settings.from_env(
        {"LOA_PORT": str(port), "LOA_DATABASE_URL": database_url, **(env or {})}
    )
    app = create_app(settings, clock=clock or FakeClock(), start_jobs=start_jobs)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    rt = app[RUNTIME]
    assert rt.sandbox is not None
    try:
        yield Service(settings.base_url, rt, rt.sandbox)
    finally:
        await runner.cleanup()


class ServeProcess:
    """A real `loa serve` process (so a test can kill it at any moment)."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = int(env["LOA_PORT"])
        self.log = cwd / "serve.log"

    async def start(self) -> None:
        """Start and wait for /healthz."""
        with open(self.log, "ab") as out:  # the child keeps its own copy of the descriptor
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot", "serve"],
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

        async def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"loa serve exited: {self.log.read_text()[-3000:]}")
            try:
                async with (
                    aiohttp.ClientSession() as http,
                    http.get(f"http://127.0.0.1:{self.port}/healthz") as r,
                ):
                    return r.status == 200
            except aiohttp.ClientError:
                return False

        await eventually(up, timeout=30, what="loa serve to come up")

    def kill(self) -> None:
        """SIGKILL: no clean-up runs, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        """SIGTERM and wait."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=30)


def serve_env(database_url: str, sandbox_port: int, port: int, **extra: str) -> dict[str, str]:
    """Environment for `loa serve` in sandbox mode, pointed at a sandbox on another port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZALO_", "LOA_"))}
    env.update(
        LOA_PORT=str(port),
        LOA_DATABASE_URL=database_url,
        ZALO_API_BASE=f"http://127.0.0.1:{sandbox_port}",
        ZALO_OAUTH_BASE=f"http://127.0.0.1:{sandbox_port}",
        LOA_LOG_LEVEL="INFO",
        PYTHONPATH=str(REPO),
        **extra,
    )
    return env


@asynccontextmanager
async def sandbox_and_serve(
    database_url: str, workdir: Path, **env: str
) -> AsyncIterator[tuple[SandboxPlatform, ServeProcess]]:
    """A sandbox served in this process and a real `loa serve` process pointed at it (to kill at will).

    The chat history's lag allowance is 2 s instead of 60 (`ZALO_HISTORY_LAG_SECONDS`), so that a send
    lost at a kill is read back within a test's patience; the rule itself is tested on a fake clock.
    """
    env.setdefault("ZALO_HISTORY_LAG_SECONDS", "2")
    from bot.clock import SystemClock
    from bot.config import SANDBOX_APP_ID, SANDBOX_APP_SECRET, SANDBOX_OA_ID, SANDBOX_OA_SECRET_KEY
    from bot.sandbox.api import create_sandbox_app

    sandbox_port, serve_port = free_port(), free_port()
    platform = SandboxPlatform(
        app_id=SANDBOX_APP_ID,
        app_secret=SANDBOX_APP_SECRET,
        oa_secret_key=SANDBOX_OA_SECRET_KEY,
        oa_id=SANDBOX_OA_ID,
        webhook_url=f"http://127.0.0.1:{serve_port}/zalo/webhook",
        clock=SystemClock(),
    )
    platform.seed_demo()
    runner = web.AppRunner(create_sandbox_app(platform), shutdown_timeout=1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", sandbox_port).start()
    first = platform.issue_initial_tokens()
    serve = ServeProcess(
        serve_env(
            database_url,
            sandbox_port,
            serve_port,
            ZALO_ACCESS_TOKEN=first.access_token,
            ZALO_REFRESH_TOKEN=first.refresh_token,
            **env,
        ),
        workdir,
    )
    try:
        await serve.start()
        yield platform, serve
    finally:
        serve.stop()
        await runner.cleanup()
