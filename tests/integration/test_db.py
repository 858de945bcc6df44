"""What the database itself holds, as an operator reading it would see it."""

from __future__ import annotations

from sqlalchemy import text

from bot.clock import FakeClock
from bot.db import make_engine, make_sessionmaker
from bot.outbox import queue_message, zalo_message

LOAN = "Hộ nghèo được vay vốn ưu đãi"


async def test_json_is_stored_as_readable_vietnamese_and_plain_text_only_once(database_url: str) -> None:
    engine = make_engine(database_url)
    now = FakeClock().now()
    fields = {"channel": "cs", "recipient_id": "4000000000000000001", "purpose": "reply", "now": now}
    try:
        async with make_sessionmaker(engine)() as session:
            rich = {"text": LOAN, "quote_message_id": "m1"}
            quoted = queue_message(session, key="reply:1:0", text=LOAN, message=rich, **fields)
            plain = queue_message(session, key="reply:2:0", text=LOAN, **fields)
            await session.commit()
            query = text("SELECT key, CAST(message AS TEXT) FROM outbound_messages")
            stored = dict((await session.execute(query)).all())
        assert LOAN in stored["reply:1:0"] and "\\u" not in stored["reply:1:0"]
        assert stored["reply:2:0"] == "{}"  # the text column holds it
        assert zalo_message(quoted) == rich
        assert zalo_message(plain) == {"text": LOAN}
    finally:
        await engine.dispose()
