"""A unit of work: one session, one "now", and the messages it queues, sent only after its commit."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.outbound.channels import Channel
from bot.outbound.outbox import queue_message
from bot.outbound.replies import Replies


@dataclass
class Work:
    """What an action works in, whoever asked (chat, command line, web, a job).

    Every message it queues gets a key made of `key_prefix` and a counter, so running the same
    work again (after a crash, from the same inbox event) can never queue a second copy.
    """

    session: AsyncSession
    now: datetime
    replies: Replies
    key_prefix: str = ""
    _sent: int = field(default=0, init=False, repr=False)

    def next_key(self) -> str:
        """A fresh outbox key for this unit of work."""
        key = f"{self.key_prefix}:{self._sent}"
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
