"""Driving the bot's handlers through the real inbox processor, reading what it queued to send."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.app import inbox_handler
from bot.chat import setup as chat_setup
from bot.chat.faq.book import FaqBook
from bot.clock import FakeClock, epoch_ms
from bot.config import Settings
from bot.inbound.dispatch import Dispatcher
from bot.inbound.events import dedupe_key
from bot.inbound.models import InboxEvent, InboxStatus
from bot.inbound.processor import InboxProcessor
from bot.outbound.models import OutboundMessage
from bot.outbound.replies import Replies
from bot.sandbox.seed import seed_demo

OA_ID = "2000000000000000002"


class Chat:
    """Feeds events to the bot and returns the messages each one queued."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: FakeClock) -> None:
        self.sessions = sessions
        self.clock = clock
        self.settings = Settings.from_env({})
        self.faq = FaqBook()
        self.replies = Replies(self.settings.templates_dir)
        dispatcher = Dispatcher()  # the residents' chat alone
        chat_setup.install_handlers(dispatcher, self.faq)
        self.processor = InboxProcessor(
            sessions, clock, inbox_handler(self.settings, clock, self.replies, dispatcher)
        )
        self._ids = itertools.count(1)

    async def setup(self) -> None:
        """Seed the demo commune and load the FAQ."""
        async with self.sessions() as session:
            await seed_demo(session, self.clock.now())
            await session.commit()
            await self.faq.reload_if_changed(session)

    async def event(self, payload: dict[str, Any]) -> list[OutboundMessage]:
        """Store one event in the inbox, process it, return the messages it queued."""
        async with self.sessions() as session:
            row = InboxEvent(
                dedupe_key=dedupe_key(payload),
                event_name=payload["event_name"],
                body=json.dumps(payload),
                received_at=self.clock.now(),
                status=InboxStatus.PENDING,
                attempts=0,
            )
            session.add(row)
            await session.commit()
            ident = row.id
        await self.processor.process(ident)
        async with self.sessions() as session:
            done = await session.get(InboxEvent, ident)
            assert done is not None and done.status == InboxStatus.DONE, done and done.error
            return list(
                (
                    await session.scalars(
                        select(OutboundMessage)
                        .where(OutboundMessage.key.like(f"in:{ident}:%"))
                        .order_by(OutboundMessage.id)
                    )
                ).all()
            )

    async def say(self, user_id: str, text: str) -> list[OutboundMessage]:
        """The user types `text` to the OA."""
        self.clock.advance(timedelta(seconds=5))
        return await self.event(
            {
                "app_id": self.settings.zalo_app_id,
                "event_name": "user_send_text",
                "timestamp": epoch_ms(self.clock.now()),
                "sender": {"id": user_id},
                "recipient": {"id": OA_ID},
                "message": {"msg_id": f"m{next(self._ids)}", "text": text},
            }
        )

    async def reply_to(self, user_id: str, text: str) -> str:
        """What the bot answered `user_id` (exactly one message to them is expected)."""
        sent = [m for m in await self.say(user_id, text) if m.recipient_id == user_id]
        assert len(sent) == 1, [m.text for m in sent]
        return sent[0].text

    async def other(self, kind: str, user_id: str, **extra: Any) -> list[OutboundMessage]:
        """Any other event for a user (follow, media, echo …)."""
        self.clock.advance(timedelta(seconds=5))
        payload: dict[str, Any] = {
            "app_id": self.settings.zalo_app_id,
            "event_name": kind,
            "timestamp": epoch_ms(self.clock.now()),
        }
        if kind in ("follow", "unfollow"):
            payload.update(oa_id=OA_ID, follower={"id": user_id})
        elif kind.startswith("oa_send_") or kind in ("user_received_message", "user_seen_message"):
            payload.update(sender={"id": OA_ID}, recipient={"id": user_id})
        else:
            payload.update(sender={"id": user_id}, recipient={"id": OA_ID})
        payload.update(extra)
        return await self.event(payload)
