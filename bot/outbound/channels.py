"""The ways a message leaves: one Channel per Zalo send API, and how each sends and reads back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from bot.outbound.models import OutboundMessage
from bot.outbound.outbox import History, Send, zalo_message
from bot.zalo.client import SentMessage, ZaloClient


class Channel(StrEnum):
    """Where an outbound row goes; stored in `outbound_messages.channel`."""

    CS = "cs"  # 1:1 to a user: Zalo's consultation message, inside its 7-day window
    GROUP = "group"  # into one of the OA's groups (GMF)


def zalo_channels(zalo: ZaloClient) -> tuple[Send, History]:
    """How the outbox sends a row through Zalo and reads its chat back, by the row's channel."""
    senders: dict[Channel, Callable[..., Awaitable[SentMessage]]] = {
        Channel.CS: zalo.send_cs,
        Channel.GROUP: zalo.send_group,
    }
    histories: dict[Channel, Callable[..., Awaitable[list[dict[str, Any]]]]] = {
        Channel.CS: zalo.user_conversation,
        Channel.GROUP: zalo.group_conversation,
    }

    async def send(row: OutboundMessage) -> str:
        sender = senders[Channel(row.channel)]
        return (await sender(row.recipient_id, zalo_message(row), priority=row.priority)).message_id

    async def history(row: OutboundMessage, offset: int, count: int) -> list[dict[str, Any]]:
        return await histories[Channel(row.channel)](row.recipient_id, offset, count)

    return send, history
