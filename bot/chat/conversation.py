"""What the bot does with each resident event: answer, ask, hand over, or keep quiet."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat import unanswered
from bot.chat.faq.book import FaqBook
from bot.chat.faq.loader import FaqItem
from bot.chat.models import Conversation, ConversationMode, Handoff
from bot.chat.person_asks import asks_for_a_person
from bot.chat.small_talk import SmallTalk, small_talk
from bot.chat.voice import in_commune_voice
from bot.clock import day_and_time
from bot.directory.hamlet_names import HamletNames
from bot.directory.models import Commune, Hamlet, Resident, Staff, StaffRole
from bot.directory.people import (
    default_commune,
    hamlet_choices,
    resident_for,
    staff_for,
)
from bot.directory.roles import head_title
from bot.inbound.context import Context
from bot.inbound.events import (
    Event,
    Follow,
    GroupText,
    MessageReceived,
    MessagesSeen,
    OAEcho,
    Unfollow,
    UserMedia,
    UserText,
)
from bot.inbound.processor import RetryLater
from bot.outbound.channels import Channel
from bot.outbound.models import OutboundMessage, OutboxStatus
from bot.outbound.notices import notify_staff
from bot.outbound.work import Work
from bot.text import fold
from bot.zalo.mentions import escape_mentions

log = logging.getLogger(__name__)


# The top-level menu: (label, FAQ topics behind it).
MENU: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Chuẩn nghèo, rà soát hộ nghèo", ("chuan-ngheo", "ra-soat", "chuong-trinh")),
    ("Vay vốn ưu đãi", ("vay-von",)),
    ("Bảo hiểm y tế", ("bhyt",)),
    ("Học phí, hỗ trợ học tập", ("giao-duc",)),
    ("Nhà ở, điện, nước sạch", ("nha-o", "dien")),
    ("Việc làm, sản xuất", ("viec-lam", "nong-nghiep")),
    ("VNeID, dịch vụ công", ("chuyen-doi-so", "lien-he")),
    ("Cảnh giác lừa đảo", ("an-toan-mang",)),
)
REGISTER_CHOICE = len(MENU) + 1
MAX_CHOICES = 9
MISSES_BEFORE_HANDOFF = 2
ECHO_MATCH_WINDOW = timedelta(minutes=10)

DONE_WORDS = {"xong", "da xong", "xong roi", "ket thuc"}
OPT_OUT_WORDS = {"ngung nhan", "ngung nhan tin", "ngung nhan thong bao", "dung nhan", "huy nhan"}
OPT_IN_WORDS = {"nhan lai", "nhan lai thong bao", "nhan lai tin"}
REGISTER_WORDS = {
    "dang ky",
    "dang ky ap",
    "dang ky thon",
    "doi ap",
    "doi thon",
    "dang ky ban",
    "chon ap",
}
# Words that ask for the menu itself; greetings get the menu too, with a greeting (small_talk).
MENU_WORDS = {
    "menu",
    "bat dau",
    "?",
    "tro giup",
    "huong dan",
    "danh muc",
}
MEDIA_WORDS = {
    "image": "hình ảnh",
    "gif": "ảnh động",
    "sticker": "nhãn dán",
    "audio": "tin nhắn thoại",
    "video": "video",
    "file": "tệp tin",
    "link": "đường dẫn",
    "location": "vị trí",
    "business_card": "danh thiếp",
}
REASONS = {
    "asked": "bà con muốn gặp cán bộ",
    "misses": "hệ thống chưa trả lời được câu hỏi",
    "media": "bà con gửi hình ảnh, tin thoại hoặc tệp",
}
_DIGIT = re.compile(r"^(?:so )?(\d{1,2})$")


def read_choice(text: str) -> int | None:
    """The number a resident picked ('2', '2.', 'số 2'), if the message is just that."""
    match = _DIGIT.match(fold(text))
    return int(match.group(1)) if match else None


async def _commune_name(ctx: Context, resident: Resident) -> tuple[str, str]:
    commune = await ctx.session.get(Commune, resident.commune_id) if resident.commune_id else None
    commune = commune or await default_commune(ctx.session)
    return (commune.name if commune else "xã", commune.hamlet_word if commune else "ấp")


async def _touch(ctx: Context, user_id: str) -> tuple[Resident, Conversation]:
    resident = await resident_for(ctx.session, user_id, ctx.now)
    resident.last_interaction_at = ctx.now
    conv = await conversation_for(ctx.session, resident, ctx.now)
    conv.updated_at = ctx.now
    return resident, conv


async def conversation_for(
    session: AsyncSession, resident: Resident, now: datetime
) -> Conversation:
    """The bot's conversation state with a resident, created on first contact."""
    conv = await session.scalar(select(Conversation).where(Conversation.resident_id == resident.id))
    if conv is None:
        conv = Conversation(
            resident_id=resident.id, mode=ConversationMode.BOT, misses=0, updated_at=now
        )
        session.add(conv)
        await session.flush()
    return conv


# ---------------------------------------------------------------------------------------- text


async def on_text(ctx: Context, event: UserText, faq: FaqBook) -> None:
    """A resident (or a staff member) typed something to the OA; answered from `faq`."""
    resident, conv = await _touch(ctx, event.user_id)
    folded = fold(event.text)
    staff = await staff_for(ctx.session, event.user_id)
    if staff is not None and folded in DONE_WORDS:
        await _helper_done(ctx, staff)
        return
    if await _human_is_answering(ctx, conv):
        await _say_who_has_it(ctx, resident, conv)
        return
    chatter = small_talk(event.text)
    if chatter is not None:
        # Not a question the bot failed: no miss is counted, and a pending choice stays open.
        await _small_talk(ctx, resident, conv, chatter)
        return
    if conv.pending and await _answer_pending(ctx, resident, conv, event.text, faq):
        return
    if folded == "0" or asks_for_a_person(event.text):
        await start_handoff(ctx, resident, conv, "asked", event.text)
        return
    if folded in OPT_OUT_WORDS or folded in OPT_IN_WORDS:
        resident.opted_out = folded in OPT_OUT_WORDS
        commune, _ = await _commune_name(ctx, resident)
        ctx.say(
            resident.zalo_user_id,
            "opted_out" if resident.opted_out else "opted_in",
            commune=commune,
        )
        return
    if folded in REGISTER_WORDS:
        await _ask_hamlet(ctx, resident, conv)
        return
    if folded in MENU_WORDS or not folded:
        await send_menu(ctx, resident, conv, welcome=False)
        return
    choice = read_choice(event.text)
    if choice is not None:
        # A number with nothing pending answers the main menu, the one list every resident has seen.
        conv.pending = {"kind": "menu"}
        if await _answer_pending(ctx, resident, conv, event.text, faq):
            return
    await _answer_question(ctx, resident, conv, event.text, faq)


async def _small_talk(
    ctx: Context, resident: Resident, conv: Conversation, kind: SmallTalk
) -> None:
    """A short warm reply to a greeting (with the menu), thanks, or an "ok"/"dạ"."""
    commune, hamlet_word = await _commune_name(ctx, resident)
    if kind == "greeting":
        conv.pending = {"kind": "menu"}
        ctx.say(
            resident.zalo_user_id,
            "greeting",
            commune=commune,
            hamlet_word=hamlet_word,
            topics=[label for label, _ in MENU],
        )
    else:
        ctx.say(
            resident.zalo_user_id, "thanks" if kind == "thanks" else "acknowledged", commune=commune
        )


async def _answer_question(
    ctx: Context, resident: Resident, conv: Conversation, text: str, faq: FaqBook
) -> None:
    decision = await faq.decide_off_loop(text)
    if decision.outcome == "answer" and decision.entry_id:
        conv.misses = 0
        conv.pending = None
        await _send_answer(ctx, resident, faq.entry(decision.entry_id))
    elif decision.outcome == "clarify":
        conv.misses = 0
        ids = [alt.id for alt in decision.alternatives[:3]]
        # The question is kept (folded) in case none of the choices is the one they meant.
        conv.pending = {"kind": "clarify", "choices": ids, "question": fold(text)[:500]}
        _, hamlet_word = await _commune_name(ctx, resident)
        ctx.say(
            resident.zalo_user_id,
            "clarify",
            choices=[_title(faq, i, hamlet_word) for i in ids],
        )
    else:
        conv.misses += 1
        conv.pending = None
        unanswered.record(ctx.session, text, ctx.now, unanswered.FALLBACK)
        if conv.misses >= MISSES_BEFORE_HANDOFF:
            await start_handoff(ctx, resident, conv, "misses", text)
        else:
            commune, _ = await _commune_name(ctx, resident)
            ctx.say(resident.zalo_user_id, "not_understood", commune=commune)


def _title(faq: FaqBook, entry_id: str, hamlet_word: str) -> str:
    return in_commune_voice(faq.entry(entry_id).questions[0], hamlet_word)


async def _send_answer(ctx: Context, resident: Resident, entry: FaqItem) -> None:
    commune, hamlet_word = await _commune_name(ctx, resident)
    checked = entry.checked.strftime("%d/%m/%Y") if entry.checked else None
    ctx.say(
        resident.zalo_user_id,
        "answer",
        commune=commune,
        answer=in_commune_voice(entry.answer, hamlet_word),
        source=entry.source,
        checked=checked,
    )


async def send_menu(ctx: Context, resident: Resident, conv: Conversation, *, welcome: bool) -> None:
    """Send the numbered topic menu (with the welcome when the resident just followed)."""
    commune, hamlet_word = await _commune_name(ctx, resident)
    conv.pending = {"kind": "menu"}
    ctx.say(
        resident.zalo_user_id,
        "welcome" if welcome else "menu",
        commune=commune,
        hamlet_word=hamlet_word,
        topics=[label for label, _ in MENU],
    )


async def _answer_pending(
    ctx: Context, resident: Resident, conv: Conversation, text: str, faq: FaqBook
) -> bool:
    """Read the message as an answer to what the bot last asked; False if it is not one."""
    pending = conv.pending or {}
    kind = pending.get("kind")
    choices = list(pending.get("choices") or [])
    number = read_choice(text)
    folded = fold(text)
    if number == 0:
        await start_handoff(ctx, resident, conv, "asked", text)
        return True
    if kind == "menu":
        labels = [fold(label) for label, _ in MENU]
        if number is None and folded in labels:
            number = labels.index(folded) + 1
        if number == REGISTER_CHOICE:
            await _ask_hamlet(ctx, resident, conv)
            return True
        if number is not None and 1 <= number <= len(MENU):
            label, topics = MENU[number - 1]
            ids = [e.id for e in faq.entries() if e.topic in topics][:MAX_CHOICES]
            conv.pending = {"kind": "topic", "choices": ids}
            _, hamlet_word = await _commune_name(ctx, resident)
            ctx.say(
                resident.zalo_user_id,
                "topic",
                topic=label.lower(),
                choices=[_title(faq, i, hamlet_word) for i in ids],
            )
            return True
    elif kind in ("clarify", "topic"):
        if number is None:
            _, hamlet_word = await _commune_name(ctx, resident)
            titles = [fold(_title(faq, i, hamlet_word)) for i in choices if faq.has(i)]
            number = titles.index(folded) + 1 if folded in titles else None
        if number is not None and 1 <= number <= len(choices) and faq.has(choices[number - 1]):
            conv.pending = None
            conv.misses = 0
            await _send_answer(ctx, resident, faq.entry(choices[number - 1]))
            return True
        if kind == "clarify" and pending.get("question"):
            # They wrote something else instead of choosing: none of the choices was it.
            unanswered.record(ctx.session, pending["question"], ctx.now, unanswered.CLARIFY_LEFT)
    elif kind == "hamlet":
        offered = [(h, label) for h, label in await hamlet_choices(ctx.session) if h.id in choices]
        hamlets = [h for h, _ in offered]
        picked: Hamlet | None = None
        if number is not None and 1 <= number <= len(hamlets):
            picked = hamlets[number - 1]
        else:
            names = HamletNames(hamlets)
            picked = names.find(text) or names.ending(text)
        if picked is not None:
            resident.hamlet_id = picked.id
            resident.commune_id = picked.commune_id
            conv.pending = None
            ctx.say(resident.zalo_user_id, "hamlet_saved", hamlet=picked.name)
            return True
        if number is not None:
            _, hamlet_word = await _commune_name(ctx, resident)
            ctx.say(
                resident.zalo_user_id,
                "hamlet_unknown",
                hamlet_word=hamlet_word,
                hamlets=[label for _, label in offered],
            )
            return True
    conv.pending = None
    return False


async def _ask_hamlet(ctx: Context, resident: Resident, conv: Conversation) -> None:
    offered = await hamlet_choices(ctx.session)
    _, hamlet_word = await _commune_name(ctx, resident)
    conv.pending = {"kind": "hamlet", "choices": [h.id for h, _ in offered]}
    ctx.say(
        resident.zalo_user_id,
        "ask_hamlet",
        hamlet_word=hamlet_word,
        hamlets=[label for _, label in offered],
    )


# ------------------------------------------------------------------------------------- handoff


async def _human_is_answering(ctx: Context, conv: Conversation) -> bool:
    if conv.mode != ConversationMode.HUMAN:
        return False
    if conv.human_until is not None and conv.human_until > ctx.now:
        return True
    await _release(ctx, conv, closed_by="expired")
    return False


# While a person has the conversation, `pending` says whether the resident was told who has it:
# told once, so a resident who writes again is not left in silence, nor answered every time.
WAITING = {"kind": "handoff", "told": False}
TOLD = {"kind": "handoff", "told": True}


async def _say_who_has_it(ctx: Context, resident: Resident, conv: Conversation) -> None:
    """Once per handoff: the request is with this person, who answers here by this time."""
    if conv.pending == TOLD:
        return
    conv.pending = dict(TOLD)
    helper = await ctx.session.get(Staff, conv.helper_staff_id) if conv.helper_staff_id else None
    _, hamlet_word = await _commune_name(ctx, resident)
    ctx.say(
        resident.zalo_user_id,
        "handoff_waiting",
        helper=_helper_words(helper, hamlet_word) if helper else None,
        until=day_and_time(conv.human_until) if conv.human_until else None,
    )


async def person_answered(session: AsyncSession, resident: Resident) -> None:
    """A helper wrote to the resident (from the desk): the bot has nothing to add to the handoff."""
    conv = await session.scalar(select(Conversation).where(Conversation.resident_id == resident.id))
    if conv is not None and conv.mode == ConversationMode.HUMAN:
        conv.pending = dict(TOLD)


async def _release(work: Work, conv: Conversation, *, closed_by: str) -> None:
    conv.mode = ConversationMode.BOT
    conv.human_until = None
    conv.helper_staff_id = None
    conv.misses = 0
    conv.pending = None
    await work.session.execute(
        update(Handoff)
        .where(Handoff.resident_id == conv.resident_id, Handoff.closed_at.is_(None))
        .values(closed_at=work.now, closed_by=closed_by)
    )


async def _pick_helper(ctx: Context, resident: Resident) -> Staff | None:
    """The hamlet's helper whose turn it is (head and digital team take turns), else a commune helper."""
    base = select(Staff).where(Staff.active.is_(True))
    if resident.commune_id is not None:
        base = base.where(Staff.commune_id == resident.commune_id)
    in_turn = (Staff.last_handoff_at.is_not(None), Staff.last_handoff_at, Staff.id)
    if resident.hamlet_id is not None:
        helper = await ctx.session.scalar(
            base.where(
                Staff.hamlet_id == resident.hamlet_id,
                Staff.role.in_([StaffRole.HAMLET_HEAD, StaffRole.DIGITAL_TEAM]),
            )
            .order_by(*in_turn)
            .limit(1)
        )
        if helper:
            return helper
    for roles in ((StaffRole.DIGITAL_TEAM,), (StaffRole.OFFICIAL, StaffRole.ADMIN)):
        helper = await ctx.session.scalar(
            base.where(Staff.hamlet_id.is_(None), Staff.role.in_(roles)).order_by(*in_turn).limit(1)
        )
        if helper:
            return helper
    return None


async def start_handoff(
    ctx: Context, resident: Resident, conv: Conversation, reason: str, last_text: str
) -> None:
    """Hand the conversation to a person: tell the helper on duty, then keep quiet until "xong" or expiry."""
    helper = await _pick_helper(ctx, resident)
    conv.mode = ConversationMode.HUMAN
    conv.human_until = ctx.now + timedelta(hours=ctx.settings.handoff_hours)
    conv.helper_staff_id = helper.id if helper else None
    conv.misses = 0
    conv.pending = dict(WAITING)
    ctx.session.add(
        Handoff(
            resident_id=resident.id, staff_id=conv.helper_staff_id, reason=reason, opened_at=ctx.now
        )
    )
    commune_name, hamlet_word = await _commune_name(ctx, resident)
    hamlet = await ctx.session.get(Hamlet, resident.hamlet_id) if resident.hamlet_id else None
    who = resident.display_name or f"Người dân (mã Zalo …{resident.zalo_user_id[-4:]})"
    notice = {
        "resident": escape_mentions(who),
        "hamlet": hamlet.name if hamlet else None,
        "reason": REASONS.get(reason, reason),
        "last_text": escape_mentions(last_text[:300]),
    }
    helper_title = None
    if helper is not None:
        helper.last_handoff_at = ctx.now
        helper_title = _helper_words(helper, hamlet_word)
        await notify_staff(
            ctx.session,
            ctx.now,
            helper,
            ctx.replies.render("handoff_notice", **notice),
            key=ctx.next_key(),
            purpose="handoff",
            in_group=lambda tag: ctx.replies.render("handoff_group_notice", mention=tag, **notice),
        )
    else:
        commune = await default_commune(ctx.session)
        if commune and commune.group_id:
            ctx.send_group(
                commune.group_id,
                ctx.replies.render("handoff_group_notice", mention=None, **notice),
                purpose="handoff",
            )
        else:
            log.warning(
                "handoff for resident %s: no helper and no commune group to tell", resident.id
            )
    ctx.say(
        resident.zalo_user_id,
        "handoff_started",
        commune=commune_name,
        helper=helper_title,
        until=day_and_time(conv.human_until),
    )


def _helper_words(staff: Staff, hamlet_word: str) -> str:
    """How residents are told who helps them: "trưởng ấp Nguyễn Văn Hùng", "Phạm Minh Tuấn (tổ …)"."""
    if staff.role == StaffRole.DIGITAL_TEAM:
        return f"{staff.name} (tổ công nghệ số)"
    return f"{_title_of(staff, hamlet_word)} {staff.name}"


def _title_of(staff: Staff, hamlet_word: str) -> str:
    return {
        StaffRole.HAMLET_HEAD: head_title(hamlet_word),
        StaffRole.DIGITAL_TEAM: "tổ công nghệ số",
        StaffRole.OFFICIAL: "cán bộ xã",
        StaffRole.ADMIN: "cán bộ xã",
    }.get(StaffRole(staff.role), "cán bộ")


async def _helper_done(ctx: Context, staff: Staff) -> None:
    assert staff.zalo_user_id, "a helper is found by the Zalo id they wrote from"
    handoffs = (
        await ctx.session.scalars(
            select(Handoff).where(Handoff.staff_id == staff.id, Handoff.closed_at.is_(None))
        )
    ).all()
    if not handoffs:
        ctx.say(staff.zalo_user_id, "helper_nothing_open")
        return
    for handoff in handoffs:
        conv = await ctx.session.scalar(
            select(Conversation).where(Conversation.resident_id == handoff.resident_id)
        )
        resident = await ctx.session.get(Resident, handoff.resident_id)
        if conv is not None:
            await _release(ctx, conv, closed_by="helper")
        if resident is not None:
            ctx.say(resident.zalo_user_id, "handoff_closed")
    ctx.say(staff.zalo_user_id, "helper_done", count=len(handoffs))


async def hand_back(work: Work, resident: Resident) -> bool:
    """A helper hands the conversation back to the bot (from the desk); False if none was open."""
    conv = await work.session.scalar(
        select(Conversation).where(Conversation.resident_id == resident.id)
    )
    if conv is None:
        return False
    was_human = conv.mode == ConversationMode.HUMAN
    await _release(work, conv, closed_by="helper")  # closes the open handoff rows either way
    if was_human:
        work.say(resident.zalo_user_id, "handoff_closed")
    return was_human


async def expire_handoffs(work: Work) -> int:
    """Give conversations back to the bot when their handoff window has passed."""
    convs = (
        await work.session.scalars(
            select(Conversation).where(
                Conversation.mode == ConversationMode.HUMAN, Conversation.human_until <= work.now
            )
        )
    ).all()
    for conv in convs:
        await _release(work, conv, closed_by="expired")
    return len(convs)


# ------------------------------------------------------------------------------- other events


async def on_media(ctx: Context, event: UserMedia) -> None:
    """A photo, voice note, sticker or file: a kind reply and the offer of a person."""
    resident, conv = await _touch(ctx, event.user_id)
    if await _human_is_answering(ctx, conv):
        await _say_who_has_it(ctx, resident, conv)
        return
    commune, _ = await _commune_name(ctx, resident)
    conv.pending = {"kind": "media"}
    ctx.say(
        resident.zalo_user_id,
        "media",
        commune=commune,
        kind=MEDIA_WORDS.get(event.kind, "tin nhắn"),
    )


async def on_follow(ctx: Context, event: Follow) -> None:
    """A new follower: welcome and the topic menu."""
    resident, conv = await _touch(ctx, event.user_id)
    resident.is_follower = True
    resident.followed_at = ctx.now
    resident.user_id_by_app = event.user_id_by_app or resident.user_id_by_app
    await send_menu(ctx, resident, conv, welcome=True)


async def on_unfollow(ctx: Context, event: Unfollow) -> None:
    """Recorded; nothing is sent (Zalo would refuse it anyway)."""
    resident = await resident_for(ctx.session, event.user_id, ctx.now)
    resident.is_follower = False
    resident.unfollowed_at = ctx.now
    # Unfollowing stops every 1:1 message: what was still waiting for them is withdrawn.
    await ctx.session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.recipient_id == event.user_id,
            OutboundMessage.channel == Channel.CS,
            OutboundMessage.status == OutboxStatus.PENDING,
        )
        .values(status=OutboxStatus.CANCELLED, error_reason="Người nhận đã bỏ quan tâm OA")
    )


async def on_received(ctx: Context, event: MessageReceived) -> None:
    """Zalo says our 1:1 message reached the phone."""
    result = await ctx.session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.zalo_message_id == event.msg_id, OutboundMessage.received_at.is_(None)
        )
        .values(received_at=ctx.now)
    )
    # Not updated: an unknown message, or ours already marked (its seen event came first).
    if result.rowcount == 0 and await _our_message(ctx.session, event.msg_id) is None:  # type: ignore[attr-defined]
        await _unmatched_receipt(ctx, [event.msg_id])


async def on_seen(ctx: Context, event: MessagesSeen) -> None:
    """The resident read our 1:1 messages."""
    if not event.msg_ids:
        return
    known = set(
        (
            await ctx.session.scalars(
                select(OutboundMessage.zalo_message_id).where(
                    OutboundMessage.zalo_message_id.in_(event.msg_ids)
                )
            )
        ).all()
    )
    await ctx.session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.zalo_message_id.in_(event.msg_ids), OutboundMessage.seen_at.is_(None)
        )
        .values(seen_at=ctx.now)
    )
    await ctx.session.execute(
        update(OutboundMessage)
        .where(
            OutboundMessage.zalo_message_id.in_(event.msg_ids),
            OutboundMessage.received_at.is_(None),
        )
        .values(received_at=ctx.now)
    )
    missing = [m for m in event.msg_ids if m not in known]
    if missing:
        await _unmatched_receipt(ctx, missing)


async def settle_receipts(
    session: AsyncSession, now: datetime, events: dict[int, Event]
) -> set[int]:
    """Settle receipts and echoes of messages we know we sent, a few statements for the lot.

    Returns the keys of the events settled; the rest (a receipt ahead of its send's record, an
    echo of a person typing in OA Manager) go to their handlers one by one.
    """
    ids: set[str] = set()
    for event in events.values():
        if isinstance(event, MessageReceived | OAEcho):
            ids.add(event.msg_id)
        elif isinstance(event, MessagesSeen):
            ids.update(event.msg_ids)
    if not ids:
        return set()
    known = set(
        (
            await session.scalars(
                select(OutboundMessage.zalo_message_id).where(
                    OutboundMessage.zalo_message_id.in_(ids)
                )
            )
        ).all()
    )
    settled: set[int] = set()
    received: set[str] = set()
    seen: set[str] = set()
    for key, event in events.items():
        if isinstance(event, OAEcho) and event.msg_id in known:
            settled.add(key)  # our own send: nothing to do
        elif isinstance(event, MessageReceived) and event.msg_id in known:
            received.add(event.msg_id)
            settled.add(key)
        elif isinstance(event, MessagesSeen) and event.msg_ids and known.issuperset(event.msg_ids):
            seen.update(event.msg_ids)
            settled.add(key)
    table = cast(Table, OutboundMessage.__table__)  # Core: no session objects to keep in step
    for column, msg_ids in (("seen_at", seen), ("received_at", received | seen)):
        if msg_ids:
            await session.execute(
                update(table)
                .where(table.c.zalo_message_id.in_(msg_ids), table.c[column].is_(None))
                .values({column: now})
            )
    return settled


async def _our_message(session: AsyncSession, msg_id: str) -> int | None:
    return await session.scalar(
        select(OutboundMessage.id).where(OutboundMessage.zalo_message_id == msg_id).limit(1)
    )


async def _unmatched_receipt(ctx: Context, msg_ids: list[str]) -> None:
    # A receipt can overtake the recording of its send's answer; give the send a moment.
    if ctx.now - ctx.received_at < timedelta(minutes=2):
        in_flight = await ctx.session.scalar(
            select(OutboundMessage.id)
            .where(OutboundMessage.status == OutboxStatus.SENDING)
            .limit(1)
        )
        if in_flight is not None:
            raise RetryLater(",".join(msg_ids))
    log.info("receipt for messages not sent by us: %s", ",".join(msg_ids))


async def on_echo(ctx: Context, event: OAEcho) -> None:
    """An OA message echoed back: ours, or a person typing in OA Manager (then the bot steps aside)."""
    ours = await _our_message(ctx.session, event.msg_id)
    if ours is None and event.text:
        # The echo can arrive before we record the send's answer: match by recipient and text too.
        ours = await ctx.session.scalar(
            select(OutboundMessage.id)
            .where(
                OutboundMessage.recipient_id == event.user_id,
                OutboundMessage.channel == Channel.CS,
                OutboundMessage.text == event.text,
                OutboundMessage.created_at >= ctx.now - ECHO_MATCH_WINDOW,
            )
            .limit(1)
        )
    if ours is not None:
        return
    resident = await resident_for(ctx.session, event.user_id, ctx.now)
    conv = await conversation_for(ctx.session, resident, ctx.now)
    if conv.mode != ConversationMode.HUMAN:
        ctx.session.add(
            Handoff(resident_id=resident.id, staff_id=None, reason="oa_manager", opened_at=ctx.now)
        )
    conv.mode = ConversationMode.HUMAN
    conv.human_until = ctx.now + timedelta(hours=ctx.settings.handoff_hours)
    conv.pending = dict(TOLD)  # a person is talking with them: the bot has nothing to add
    log.info("a person answered resident %s in OA Manager; the bot keeps quiet there", resident.id)


async def on_group_text(ctx: Context, event: GroupText) -> None:
    """A member wrote in one of the OA's groups; nothing to answer there yet."""
    log.debug("group %s: message %s from %s", event.group_id, event.msg_id, event.user_id)
