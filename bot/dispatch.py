"""Routes each stored event to its handlers: the first one of its type that takes it wins."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot import conversation
from bot.context import Context
from bot.events import (
    Event,
    Follow,
    GroupText,
    MessageReceived,
    MessagesSeen,
    OAEcho,
    Unfollow,
    Unknown,
    UserMedia,
    UserText,
)

log = logging.getLogger(__name__)

# A handler returns False to pass the event on (it was not for it); anything else means handled.
Handler = Callable[[Context, Any], Awaitable[bool | None]]


class Dispatcher:
    """A table of (event type, handler); features add their handlers at start-up."""

    def __init__(self) -> None:
        self._routes: list[tuple[type[Event], Handler]] = []

    def add(self, kind: type[Event], handler: Handler, *, first: bool = False) -> None:
        """Register a handler for an event type; `first` puts it ahead of those already there."""
        if first:
            self._routes.insert(0, (kind, handler))
        else:
            self._routes.append((kind, handler))

    async def dispatch(self, ctx: Context, event: Event) -> None:
        """Offer the event to each handler of its type in order until one takes it."""
        for kind, handler in self._routes:
            if isinstance(event, kind) and await handler(ctx, event) is not False:
                return
        log.info("unhandled event %s kept in the inbox", event.event_name)


def residents_dispatcher() -> Dispatcher:
    """The dispatcher for the residents' side."""
    d = Dispatcher()
    d.add(UserText, conversation.on_text)
    d.add(UserMedia, conversation.on_media)
    d.add(Follow, conversation.on_follow)
    d.add(Unfollow, conversation.on_unfollow)
    d.add(MessageReceived, conversation.on_received)
    d.add(MessagesSeen, conversation.on_seen)
    d.add(OAEcho, conversation.on_echo)
    d.add(GroupText, conversation.on_group_text)
    d.add(Unknown, _log_unknown)
    return d


async def _log_unknown(ctx: Context, event: Unknown) -> None:
    log.info("unknown event %r stored raw as inbox row %d", event.event_name, ctx.inbox_id)
