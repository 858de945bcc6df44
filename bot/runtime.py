"""The long-lived parts of a running service, wired together by bot.app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import aiohttp
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.chat.faq.book import FaqBook
from bot.clock import Clock
from bot.config import Settings
from bot.db.wal import WalCheckpointer
from bot.inbound.inbox import InboxWriter
from bot.inbound.processor import InboxProcessor
from bot.outbound.outbox import OutboxSender
from bot.outbound.replies import Replies
from bot.zalo.client import ZaloClient
from bot.zalo.tokens import TokenManager

if TYPE_CHECKING:
    from bot.sandbox.platform import SandboxPlatform
    from broadcasts.campaigns import Deps


@dataclass
class Runtime:
    """Everything a request handler or a scheduled job may reach, built once per process."""

    settings: Settings
    clock: Clock
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    replies: Replies
    faq: FaqBook
    http: aiohttp.ClientSession
    tokens: TokenManager
    zalo: ZaloClient
    inbox: InboxWriter
    processor: InboxProcessor
    outbox: OutboxSender
    scheduler: AsyncIOScheduler
    sandbox: SandboxPlatform | None = None
    checkpointer: WalCheckpointer | None = None  # SQLite only
    announcements: Deps | None = None  # the announcements' templates and replies, built once
    zalo_status: str = field(default="ok")  # ok / not_connected / authorization_lost
