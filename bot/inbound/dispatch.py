"""Routes each stored event to its handlers: the first one of its type that takes it wins."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.inbound.context import Context
from bot.inbound.events import (
    Event,
    Unknown,
)

log = logging.getLogger(__name__)

# A handler returns False to pass the event on (it was not for it); anything else means handled.
Handler = Callable[[Context, Any], Awaitable[bool | None]]


class Dispatcher:
    """A table of (event type, handler); features add their handlers at start-up."""

    def __init__(self) -> None:
        self._routes: list[tuple[type[Event], Handler]] = []

    def add(self, kind: type[Event], handler: Handler) -> None:
        """Register a handler for an event type, after those already there: order is priority."""
        self._routes.append((kind, handler))

    async def dispatch(self, ctx: Context, event: Event) -> None:
        """Offer the event to each handler of its type in order until one takes it."""
        for kind, handler in self._routes:
            if isinstance(event, kind) and await handler(ctx, event) is not False:
                return
        log.info("unhandled event %s kept in the inbox", event.event_name)


async def log_unknown(ctx: Context, event: Unknown) -> None:
    """The last handler of unknown events: they stay in the inbox, raw, for a later release."""
    log.info("unknown event %r stored raw as inbox row %d", event.event_name, ctx.inbox_id)
