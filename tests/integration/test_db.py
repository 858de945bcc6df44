"""What the database itself holds, as an operator reading it would see it."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert, text, update

from bot.clock import FakeClock
from bot.db.engine import make_engine, make_sessionmaker
from bot.outbound.models import OutboundMessage, OutboxStatus
from bot.outbound.outbox import due_rows, outbound_row, queue_message, zalo_message

LOAN = "Hộ nghèo được vay vốn ưu đãi"


async def test_json_is_stored_as_readable_vietnamese_and_plain_text_only_once(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    now = FakeClock().now()
    fields = {
        "channel": "cs",
        "recipient_id": "4000000000000000001",
        "purpose": "reply",
        "now": now,
    }
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


async def test_the_senders_claim_walks_pending_rows_only_however_many_were_sent(
    database_url: str,
) -> None:
    engine = make_engine(database_url)
    now = FakeClock().now()
    earlier = now - timedelta(minutes=10)
    rows = [
        outbound_row(
            key=f"b:{i}",
            channel="cs",
            recipient_id=f"u{i}",
            text=LOAN,
            purpose="broadcast",
            now=earlier,
            priority=False,
        )
        for i in range(3000)
    ]
    try:
        async with make_sessionmaker(engine)() as session:
            await session.execute(insert(OutboundMessage), rows)
            await session.commit()
            # Statistics taken while every row was pending, as during a fan-out; then most are sent.
            await session.execute(text("ANALYZE"))
            first = await session.scalar(text("SELECT min(id) FROM outbound_messages"))
            await session.execute(
                update(OutboundMessage)
                .where(OutboundMessage.id < first + 2900)
                .values(status=OutboxStatus.SENT)
            )
            await session.commit()
            claim = due_rows(now, False, 20, skip={first + 2900})
            sql = str(claim.compile(engine.sync_engine, compile_kwargs={"literal_binds": True}))
            explain = "EXPLAIN QUERY PLAN " if database_url.startswith("sqlite") else "EXPLAIN "
            plan = " ".join(str(r) for r in (await session.execute(text(explain + sql))).all())
            claimed = [row.id for row in (await session.scalars(claim)).all()]
        # Walking the primary key would read the 2,900 sent rows before each claim (PostgreSQL
        # chose that with these statistics); the index of pending rows goes straight to them.
        assert "ix_outbound_due" in plan, plan
        assert claimed == list(range(first + 2901, first + 2921))
    finally:
        await engine.dispose()
