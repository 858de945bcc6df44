"""What residents and helpers see the bot do, event by event, on a real database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from bot.chat.models import Conversation, ConversationMode, Handoff
from bot.clock import FakeClock
from bot.db.engine import make_engine, make_sessionmaker
from bot.directory.models import Commune, Resident
from bot.outbound.models import OutboundMessage
from tests.chat import Chat

BA_SAU = "4000000000000000001"  # resident of Ấp Tân Lập in the demo commune
UT = "4000000000000000006"  # resident with no hamlet yet
HEAD_TAN_LAP = "3000000000000000001"  # Nguyễn Văn Hùng, trưởng ấp Tân Lập
COMMUNE_GROUP = "5000000000000000100"
ENGLISH = ("None", "null", "error", "Error", "Traceback", "Exception", "undefined")


@pytest.fixture
async def chat(database_url: str) -> AsyncIterator[Chat]:
    engine = make_engine(database_url)
    c = Chat(make_sessionmaker(engine), FakeClock())
    await c.setup()
    yield c
    await engine.dispose()


def vietnamese_only(text: str) -> None:
    assert text.strip()
    for word in ENGLISH:
        assert word not in text, text


async def test_follow_gets_welcome_and_numbered_menu(chat: Chat) -> None:
    [welcome] = await chat.other("follow", UT)
    assert welcome.recipient_id == UT and welcome.channel == "cs"
    assert (
        "Xã Tân Hòa" in welcome.text
        and "1. Chuẩn nghèo" in welcome.text
        and "0. Gặp cán bộ" in welcome.text
    )
    vietnamese_only(welcome.text)
    async with chat.sessions() as s:
        resident = await s.scalar(select(Resident).where(Resident.zalo_user_id == UT))
        assert resident is not None and resident.is_follower


async def test_question_with_or_without_diacritics_gets_the_same_sourced_answer(chat: Chat) -> None:
    accented = await chat.reply_to(
        BA_SAU, "Hộ cận nghèo có được hỗ trợ tiền mua thẻ bảo hiểm y tế không?"
    )
    folded = await chat.reply_to(
        BA_SAU, "ho can ngheo co duoc ho tro tien mua the bao hiem y te khong"
    )
    assert accented == folded
    assert (
        accented.startswith("UBND Xã Tân Hòa xin trả lời:")
        and "(Nguồn:" in accented
        and "gõ 0" in accented
    )
    vietnamese_only(accented)


async def test_asking_for_a_person_hands_over_and_the_bot_keeps_quiet_until_xong(
    chat: Chat,
) -> None:
    sent = await chat.say(BA_SAU, "gặp cán bộ")
    to_resident = [m for m in sent if m.recipient_id == BA_SAU]
    notice = [m for m in sent if m.recipient_id != BA_SAU]
    assert len(to_resident) == 1 and "trưởng ấp Nguyễn Văn Hùng" in to_resident[0].text
    # The head has not written to the OA in 7 days, so Zalo would refuse 1:1: the commune group is told.
    assert [(m.channel, m.recipient_id) for m in notice] == [("group", COMMUNE_GROUP)]
    assert f"[@{HEAD_TAN_LAP}]" in notice[0].text and "Ấp Tân Lập" in notice[0].text
    # Written to during the handoff: told once who has it and by when, then the bot keeps quiet.
    waiting = await chat.reply_to(BA_SAU, "alo có ai không")
    assert "trưởng ấp Nguyễn Văn Hùng" in waiting and "chậm nhất" in waiting
    assert await chat.say(BA_SAU, "vay vốn hộ nghèo") == []
    assert await chat.say(BA_SAU, "còn đó không") == []
    done = await chat.say(HEAD_TAN_LAP, "xong")
    assert {m.recipient_id for m in done} == {BA_SAU, HEAD_TAN_LAP}
    assert "hỗ trợ xong" in next(m.text for m in done if m.recipient_id == BA_SAU)
    back = await chat.reply_to(BA_SAU, "vay vốn hộ nghèo lãi suất bao nhiêu")
    assert "xin trả lời" in back or "Ý bà con là" in back


async def test_helper_reached_one_to_one_when_they_wrote_recently(chat: Chat) -> None:
    await chat.say(
        HEAD_TAN_LAP, "chào"
    )  # the head interacted with the OA: 1:1 is allowed for 7 days
    sent = await chat.say(BA_SAU, "0")
    notice = [m for m in sent if m.recipient_id != BA_SAU]
    assert [(m.channel, m.recipient_id) for m in notice] == [("cs", HEAD_TAN_LAP)]
    assert 'nhắn "xong"' in notice[0].text


async def test_handoff_window_expires_after_24_hours(chat: Chat) -> None:
    await chat.say(BA_SAU, "người thật")
    await chat.say(BA_SAU, "còn đó không")  # told once who has it
    assert await chat.say(BA_SAU, "còn đó không") == []
    chat.clock.advance(timedelta(hours=24, minutes=1))
    assert "xin trả lời" in await chat.reply_to(BA_SAU, "thẻ bảo hiểm y tế hộ nghèo")
    async with chat.sessions() as s:
        handoff = await s.scalar(select(Handoff))
        assert handoff is not None and handoff.closed_by == "expired"


async def test_helpers_of_a_hamlet_take_turns(chat: Chat) -> None:
    first = await chat.say(BA_SAU, "0")
    await chat.say(HEAD_TAN_LAP, "xong")
    second = await chat.say("4000000000000000002", "0")  # Chú Bảy, same hamlet
    names = [
        next(m.text for m in batch if m.channel == "cs" and "chuyển câu hỏi" in m.text)
        for batch in (first, second)
    ]
    assert "Nguyễn Văn Hùng" in names[0] and "Phạm Minh Tuấn" in names[1]


async def test_two_misses_in_a_row_hand_over(chat: Chat) -> None:
    first = await chat.reply_to(BA_SAU, "ad ơi mình muốn mua sim số đẹp")
    assert "chưa hiểu" in first and "gõ 0" in first
    second = await chat.say(BA_SAU, "bán cho mình cái sim đuôi 888")
    assert any("chuyển câu hỏi" in m.text for m in second if m.recipient_id == BA_SAU)


async def test_media_gets_a_kind_reply_and_the_offer_of_a_person(chat: Chat) -> None:
    [reply] = await chat.other(
        "user_send_audio",
        BA_SAU,
        message={
            "msg_id": "a1",
            "attachments": [{"type": "audio", "payload": {"url": "https://example.invalid/a.aac"}}],
        },
    )
    assert "tin nhắn thoại" in reply.text and "gõ 0" in reply.text
    vietnamese_only(reply.text)
    sent = await chat.say(BA_SAU, "0")
    assert any("chuyển câu hỏi" in m.text for m in sent)


async def test_opt_out_and_back_in(chat: Chat) -> None:
    assert "ngừng gửi thông báo" in await chat.reply_to(BA_SAU, "ngừng nhận")
    async with chat.sessions() as s:
        assert (
            await s.scalar(select(Resident.opted_out).where(Resident.zalo_user_id == BA_SAU))
        ) is True
    assert "gửi lại thông báo" in await chat.reply_to(BA_SAU, "nhan lai")
    async with chat.sessions() as s:
        assert (
            await s.scalar(select(Resident.opted_out).where(Resident.zalo_user_id == BA_SAU))
        ) is False


async def test_registration_links_a_follower_to_a_hamlet(chat: Chat) -> None:
    question = await chat.reply_to(UT, "đăng ký ấp")
    assert question.startswith("Bà con ở ấp nào?") and "2. Ấp Tân Thạnh" in question
    assert "Ấp Tân Thạnh" in await chat.reply_to(UT, "2.")
    async with chat.sessions() as s:
        resident = await s.scalar(select(Resident).where(Resident.zalo_user_id == UT))
        assert resident is not None and resident.hamlet_id is not None
    # By name, without diacritics, through the menu's own number.
    await chat.reply_to(UT, "menu")
    assert "ấp nào" in await chat.reply_to(UT, "9")
    assert "Ấp Hòa Bình" in await chat.reply_to(UT, "hoa binh")


async def test_menu_numbers_lead_to_an_answer(chat: Chat) -> None:
    await chat.other("follow", BA_SAU)
    topic = await chat.reply_to(BA_SAU, "3")
    assert topic.startswith("Về bảo hiểm y tế") and "\n1. " in topic
    answer = await chat.reply_to(BA_SAU, "1")
    assert answer.startswith("UBND Xã Tân Hòa xin trả lời:")


async def test_a_person_typing_in_oa_manager_silences_the_bot(chat: Chat) -> None:
    mine = await chat.say(BA_SAU, "thẻ bảo hiểm y tế hộ nghèo")
    # The echo of our own reply (matched by text while its send is under way) changes nothing.
    await chat.other("oa_send_text", BA_SAU, message={"msg_id": "echo-1", "text": mine[0].text})
    assert await chat.say(BA_SAU, "vay vốn hộ nghèo") != []
    await chat.other(
        "oa_send_text",
        BA_SAU,
        message={"msg_id": "echo-2", "text": "Chào bác, con là cán bộ xã đây ạ"},
    )
    assert await chat.say(BA_SAU, "dạ cảm ơn con") == []
    async with chat.sessions() as s:
        conv = await s.scalar(select(Conversation))
        assert conv is not None and conv.mode == ConversationMode.HUMAN


async def test_receipts_are_recorded_against_our_message(chat: Chat) -> None:
    [reply] = await chat.say(BA_SAU, "vneid là gì")
    async with chat.sessions() as s:
        row = await s.get(OutboundMessage, reply.id)
        assert row is not None
        row.zalo_message_id, row.status = "zmsg-1", "sent"
        await s.commit()
    await chat.other("user_received_message", BA_SAU, message={"msg_id": "zmsg-1"})
    await chat.other("user_seen_message", BA_SAU, message={"msg_ids": ["zmsg-1", "not-ours"]})
    async with chat.sessions() as s:
        row = await s.get(OutboundMessage, reply.id)
        assert row is not None and row.received_at is not None and row.seen_at is not None


async def test_a_receipt_after_the_seen_event_is_done_at_once_and_keeps_the_first_time(
    chat: Chat,
) -> None:
    [reply] = await chat.say(BA_SAU, "vneid là gì")
    [other] = await chat.say(BA_SAU, "thẻ bảo hiểm y tế hộ nghèo")
    async with chat.sessions() as s:
        row, in_flight = (
            await s.get(OutboundMessage, reply.id),
            await s.get(OutboundMessage, other.id),
        )
        assert row is not None and in_flight is not None
        row.zalo_message_id, row.status = "zmsg-1", "sent"
        in_flight.status = (
            "sending"  # a send under way: a receipt of an unknown message would wait for it
        )
        await s.commit()
    await chat.other("user_seen_message", BA_SAU, message={"msg_ids": ["zmsg-1"]})
    async with chat.sessions() as s:
        first = (await s.get(OutboundMessage, reply.id)).received_at  # type: ignore[union-attr]
    # The receipt comes after the seen event: it is ours, so it is done now, not held back for the send.
    await chat.other("user_received_message", BA_SAU, message={"msg_id": "zmsg-1"})
    async with chat.sessions() as s:
        row = await s.get(OutboundMessage, reply.id)
        assert row is not None and first is not None and row.received_at == first


@pytest.mark.parametrize(
    "text", ["e muon gap can bo xa", "cho tôi gặp người thật", "có ai trực không"]
)
async def test_asking_for_a_person_in_everyday_words_hands_over(chat: Chat, text: str) -> None:
    sent = await chat.say(BA_SAU, text)
    [to_resident] = [m for m in sent if m.recipient_id == BA_SAU]
    assert "đã chuyển câu hỏi của bà con cho trưởng ấp Nguyễn Văn Hùng" in to_resident.text
    assert "xin trả lời" not in to_resident.text  # not an FAQ entry about which staff do what
    assert any(m.recipient_id != BA_SAU for m in sent)  # the helper is told


async def test_a_question_about_staff_is_still_answered(chat: Chat) -> None:
    reply = await chat.reply_to(BA_SAU, "số điện thoại ủy ban xã là bao nhiêu")
    assert "chuyển câu hỏi" not in reply


async def test_during_a_handoff_the_resident_is_told_once_who_has_it_and_by_when(
    chat: Chat,
) -> None:
    chat.clock.set(datetime(2026, 12, 7, 3, 0, tzinfo=UTC))  # 10h thứ Hai, Vietnam time
    started = await chat.reply_to(BA_SAU, "0")
    assert "chậm nhất 10h thứ Ba 8/12" in started
    chat.clock.advance(timedelta(hours=2))
    told = await chat.reply_to(BA_SAU, "Sao chưa thấy ai trả lời vậy")
    assert "trưởng ấp Nguyễn Văn Hùng" in told and "chậm nhất 10h thứ Ba 8/12" in told
    assert "gõ 0" in told
    vietnamese_only(told)
    # Then quiet, for text and for a photo alike, until the handoff ends.
    assert await chat.say(BA_SAU, "alo alo") == []
    photo = {"msg_id": "p1", "attachments": [{"type": "image", "payload": {"url": "x"}}]}
    assert await chat.other("user_send_image", BA_SAU, message=photo) == []
    await chat.say(HEAD_TAN_LAP, "xong")
    # A new handoff tells them again.
    await chat.say(BA_SAU, "cho tôi gặp cán bộ")
    assert "chậm nhất" in await chat.reply_to(BA_SAU, "còn đó không")


async def test_after_a_person_answered_in_oa_manager_the_bot_says_nothing(chat: Chat) -> None:
    await chat.say(BA_SAU, "0")
    await chat.other("oa_send_text", BA_SAU, message={"msg_id": "oa1", "text": "Chào bà Sáu"})
    assert await chat.say(BA_SAU, "dạ cảm ơn cán bộ") == []


async def test_answers_use_the_communes_hamlet_word_and_one_form_of_address(chat: Chat) -> None:
    question = "Kết quả rà soát hộ nghèo dán ở đâu, thấy sai thì khiếu nại với ai?"
    southern = await chat.reply_to(BA_SAU, question)
    # The corpus says "trưởng thôn", "nhà văn hóa thôn" and "anh chị"; the demo commune has ấp.
    assert "trưởng ấp" in southern and "thôn" not in southern.replace("nông thôn", "")
    assert "anh chị" not in southern.lower() and "bà con" in southern
    async with chat.sessions() as s:
        commune = await s.scalar(select(Commune))
        assert commune is not None
        commune.hamlet_word = "bản"
        await s.commit()
    northern = await chat.reply_to(BA_SAU, question)
    assert "trưởng bản" in northern and "trưởng ấp" not in northern


async def test_small_talk_gets_a_warm_reply_and_is_not_a_miss(chat: Chat) -> None:
    greeting = await chat.reply_to(BA_SAU, "chào em")
    assert greeting.startswith("UBND Xã Tân Hòa chào bà con") and "1. Chuẩn nghèo" in greeting
    assert "Xin lỗi" not in greeting and "chưa hiểu" not in greeting
    vietnamese_only(greeting)
    miss = await chat.reply_to(BA_SAU, "ad ơi mình muốn mua sim số đẹp")
    assert "chưa hiểu" in miss
    for text in ("ok", "dạ", "cảm ơn ad nhiều nha", "alo", "hi ad"):
        reply = await chat.reply_to(BA_SAU, text)
        assert "Xin lỗi" not in reply and "chưa hiểu" not in reply, text
        assert "chuyển câu hỏi" not in reply, text
        vietnamese_only(reply)
    async with chat.sessions() as s:
        conv = await s.scalar(select(Conversation))
        assert conv is not None and conv.misses == 1 and conv.mode == ConversationMode.BOT
        assert await s.scalar(select(Handoff)) is None
    assert "không có gì" in await chat.reply_to(BA_SAU, "cảm ơn")


async def test_a_greeting_leaves_the_menu_numbers_working(chat: Chat) -> None:
    await chat.say(BA_SAU, "alo")
    topic = await chat.reply_to(BA_SAU, "3")
    assert topic.startswith("Về bảo hiểm y tế") and "\n1. " in topic
