"""The explicit context a handler works in: one session, one 'now', one inbox event."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.outbound.channels import Channel
from bot.outbound.outbox import queue_message
from bot.outbound.replies import Replies


@dataclass
class Context:
    """What a handler may use; everything it changes commits with the event's 'done' mark."""

    session: AsyncSession
    now: datetime
    settings: Settings
    replies: Replies
    inbox_id: int
    received_at: datetime
    key_prefix: str = ""  # for work that is not an inbox event (a CLI command, a scheduled job)
    _sent: int = field(default=0, repr=False)

    def next_key(self) -> str:
        """A fresh outbox key for this event (derived from the inbox row, so a re-run never doubles)."""
        key = f"{self.key_prefix or f'in:{self.inbox_id}'}:{self._sent}"
        self._sent += 1
        return key

    def send_user(self, user_id: str, text: str, purpose: str = "reply") -> None:
        """Queue a 1:1 message to a Zalo user."""
        queue_message(
            self.session,
            key=self.next_key(),
            channel=Channel.CS,
            recipient_id=user_id,
            text=text,
            purpose=purpose,
            now=self.now,
        )

    def send_group(self, group_id: str, text: str, purpose: str) -> None:
        """Queue a message into one of the OA's groups."""
        queue_message(
            self.session,
            key=self.next_key(),
            channel=Channel.GROUP,
            recipient_id=group_id,
            text=text,
            purpose=purpose,
            now=self.now,
        )

    def say(self, user_id: str, reply: str, **variables: object) -> None:
        """Render a reply template and queue it to a user."""
        self.send_user(user_id, self.replies.render(reply, **variables))
