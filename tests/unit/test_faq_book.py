"""The FAQ book as the bot's handlers use it."""

from __future__ import annotations

import threading

from bot.chat.faq.book import FaqBook
from bot.chat.faq.loader import BUNDLED_FAQ, read_faq
from bot.chat.faq.matcher import Decision


async def test_a_decision_is_made_off_the_event_loop_and_is_the_same_decision() -> None:
    # The semantic scorer takes tens of milliseconds per message; on the loop it would hold up
    # every webhook answer for that long.
    book = FaqBook(read_faq(BUNDLED_FAQ))
    question = "hộ cận nghèo có được hỗ trợ mua thẻ bảo hiểm y tế không"
    loop_thread = threading.get_ident()
    seen: list[int] = []
    plain = book.decide

    def watched(text: str) -> Decision:
        seen.append(threading.get_ident())
        return plain(text)

    book.decide = watched  # type: ignore[method-assign]
    decided = await book.decide_off_loop(question)
    assert seen and seen[0] != loop_thread
    assert decided == plain(question)
