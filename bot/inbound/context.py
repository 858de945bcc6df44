"""The context an inbox event's handlers work in: a unit of work keyed by that event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.config import Settings
from bot.outbound.work import Work


@dataclass(kw_only=True)
class Context(Work):
    """A unit of work for one stored event; everything it changes commits with the event's mark."""

    settings: Settings
    inbox_id: int
    received_at: datetime

    def __post_init__(self) -> None:
        """Key the messages by the inbox row, so a re-run of the same event never doubles one."""
        self.key_prefix = self.key_prefix or f"in:{self.inbox_id}"
