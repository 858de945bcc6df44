"""The handoff inbox on the desk: residents waiting for a person, oldest first; reply, or hand back.

A reply is a 1:1 consultation message queued in the outbox like every other send, so the rate
limit and "never twice" hold: the form carries a one-time key, and a form sent twice finds its
message already queued. Who answered what is in the audit log.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat.conversation import REASONS, hand_back, person_answered
from bot.chat.models import Handoff
from bot.directory.models import AuditEntry, Hamlet, Resident, Staff
from bot.directory.people import within_window
from bot.directory.roles import Action, can, territory
from bot.inbound.models import InboxEvent
from bot.keys import RUNTIME
from bot.outbound.channels import Channel
from bot.outbound.models import OutboundMessage, OutboxStatus
from bot.outbound.outbox import queue_message
from bot.outbound.work import Work
from bot.web.auth import desk_of, desk_page
from bot.web.desk import refuse, render_desk
from broadcasts.models import Household, HouseholdMember
from broadcasts.timing import format_local

PATH = "/admin/inbox"
MAX_REPLY = 2000  # Zalo's limit for a text message
SHOWN_MESSAGES = 20


@dataclass
class Line:
    """One message of a waiting conversation, as the inbox shows it."""

    at: datetime
    from_resident: bool
    text: str
    who: str = "Bà con"
    state: str = ""  # for what the OA sent: not (yet) delivered, and why

    @property
    def when(self) -> str:
        """The time, as officials write it."""
        return format_local(self.at)


@dataclass
class Waiting:
    """One resident waiting for a person."""

    handoff: Handoff
    resident: Resident
    hamlet: Hamlet | None
    household: Household | None
    helper: str | None
    since: str
    reason: str
    reachable: bool  # Zalo still lets the OA write to them 1:1 (7 days since they wrote)
    lines: list[Line]

    @property
    def who(self) -> str:
        """The resident as the desk names them."""
        return (
            self.resident.display_name or f"Người dân (mã Zalo …{self.resident.zalo_user_id[-4:]})"
        )


def _state(message: OutboundMessage) -> str:
    """What the person answering must know of a message the OA has not surely delivered."""
    if message.status in (OutboxStatus.PENDING, OutboxStatus.SENDING):
        return "đang gửi"
    if message.status == OutboxStatus.FAILED:
        return f"không gửi được: {message.error_reason or 'Zalo từ chối'}"
    if message.status == OutboxStatus.UNCERTAIN:
        return "chưa rõ đã tới chưa (mạng lỗi lúc gửi)"
    if message.status == OutboxStatus.CANCELLED:
        return "đã huỷ, không gửi"
    return ""


async def _lines(session: AsyncSession, resident: Resident, since: datetime) -> list[Line]:
    """What the resident wrote and the OA answered since the handoff opened (the last few)."""
    sent = (
        await session.scalars(
            select(OutboundMessage)
            .where(
                OutboundMessage.channel == Channel.CS,
                OutboundMessage.recipient_id == resident.zalo_user_id,
                OutboundMessage.created_at >= since - timedelta(minutes=5),
            )
            .order_by(OutboundMessage.id.desc())
            .limit(SHOWN_MESSAGES)
        )
    ).all()
    lines = [
        Line(
            m.created_at,
            False,
            m.text,
            "Cán bộ trả lời" if m.purpose == "handoff_reply" else "Trả lời tự động",
            _state(m),
        )
        for m in reversed(sent)
        if m.text
    ]
    # Inbox rows keep Zalo's body as it came; the resident's id is in it as a quoted string.
    received = (
        await session.scalars(
            select(InboxEvent)
            .where(
                InboxEvent.event_name == "user_send_text",
                InboxEvent.received_at >= since - timedelta(minutes=5),
                InboxEvent.body.contains(f'"{resident.zalo_user_id}"'),
            )
            .order_by(InboxEvent.id.desc())
            .limit(SHOWN_MESSAGES)
        )
    ).all()
    for row in reversed(received):
        try:
            body = json.loads(row.body)
        except ValueError:
            continue
        if (body.get("sender") or {}).get("id") == resident.zalo_user_id:
            text = str((body.get("message") or {}).get("text") or "")
            if text:
                lines.append(Line(row.received_at, True, text))
    # Oldest first; at the same moment, the resident's message before the answer to it.
    return sorted(lines, key=lambda line: (line.at, not line.from_resident))[-SHOWN_MESSAGES:]


async def waiting_for(session: AsyncSession, staff: Staff, now: datetime) -> list[Waiting]:
    """Open handoffs this staff member may see (their hamlet's only, for a territorial role)."""
    query = (
        select(Handoff, Resident)
        .join(Resident, Resident.id == Handoff.resident_id)
        .where(Handoff.closed_at.is_(None), Resident.commune_id == staff.commune_id)
        .order_by(Handoff.opened_at, Handoff.id)
    )
    own = territory(staff)
    if own is not None:
        query = query.where(Resident.hamlet_id == own)
    shown = []
    for handoff, resident in (await session.execute(query)).all():
        hamlet = await session.get(Hamlet, resident.hamlet_id) if resident.hamlet_id else None
        household = await session.scalar(
            select(Household)
            .join(HouseholdMember, HouseholdMember.household_id == Household.id)
            .where(HouseholdMember.resident_id == resident.id)
            .limit(1)
        )
        helper = await session.get(Staff, handoff.staff_id) if handoff.staff_id else None
        shown.append(
            Waiting(
                handoff=handoff,
                resident=resident,
                hamlet=hamlet,
                household=household,
                helper=helper.name if helper else None,
                since=format_local(handoff.opened_at),
                reason=REASONS.get(handoff.reason, handoff.reason),
                reachable=within_window(resident, now),
                lines=await _lines(session, resident, handoff.opened_at),
            )
        )
    return shown


async def _page(
    request: web.Request, *, errors: dict[int, str] | None = None, status: int = 200
) -> web.Response:
    rt = request.app[RUNTIME]
    staff = desk_of(request).staff
    async with rt.sessions() as session:
        waiting = await waiting_for(session, staff, rt.clock.now())
    done = request.query.get("done", "")
    return render_desk(
        request,
        "inbox.html",
        {
            "title": "Người dân chờ cán bộ",
            "waiting": waiting,
            "errors": errors or {},
            "may_answer": can(staff, Action.ANSWER_RESIDENTS),
            "done": done if done in ("replied", "closed") else "",
            # One key per form shown: sending the same form twice queues one message.
            "reply_key": secrets.token_urlsafe(16),
            "max_reply": MAX_REPLY,
        },
        status=status,
    )


@desk_page
async def inbox(request: web.Request) -> web.StreamResponse:
    """GET /admin/inbox: residents waiting for a person."""
    return await _page(request)


async def _handoff_in_reach(
    request: web.Request, session: AsyncSession, handoff_id: int
) -> tuple[Handoff, Resident] | None:
    """The open handoff, if the signed-in person may answer it (their territory, their role)."""
    staff = desk_of(request).staff
    handoff = await session.get(Handoff, handoff_id)
    if handoff is None or handoff.closed_at is not None:
        return None
    resident = await session.get(Resident, handoff.resident_id)
    if (
        resident is None
        or resident.commune_id != staff.commune_id
        or not can(staff, Action.ANSWER_RESIDENTS, resident.hamlet_id or 0)
    ):
        return None
    return handoff, resident


def _audit(
    session: AsyncSession, now: datetime, staff: Staff, handoff: Handoff, status: str, note: str
) -> None:
    """Who answered which waiting resident, and how, in the audit log."""
    session.add(
        AuditEntry(
            at=now,
            actor_staff_id=staff.id,
            entity="handoff",
            entity_id=handoff.id,
            to_status=status,
            note=note,
        )
    )


@desk_page
async def reply(request: web.Request) -> web.StreamResponse:
    """POST /admin/inbox/{id}/reply: `text` to the resident, 1:1, through the outbox."""
    rt = request.app[RUNTIME]
    staff = desk_of(request).staff
    handoff_id = int(request.match_info["id"])
    form = await request.post()
    text = str(form.get("text", "")).strip()
    key = str(form.get("reply_key", ""))[:40]
    now = rt.clock.now()
    async with rt.sessions() as session:
        found = await _handoff_in_reach(request, session, handoff_id)
        if found is None:
            return await refuse(request, f"hội thoại {handoff_id}")
        handoff, resident = found
        if not text:
            return await _page(request, errors={handoff_id: "Chưa viết câu trả lời."}, status=400)
        if len(text) > MAX_REPLY:
            problem = f"Câu trả lời dài quá: {len(text)} ký tự, Zalo nhận tối đa {MAX_REPLY}."
            return await _page(request, errors={handoff_id: problem}, status=400)
        if not within_window(resident, now):
            problem = (
                "Người này nhắn OA đã quá 7 ngày nên Zalo không cho OA nhắn riêng nữa. "
                "Xin gọi điện hoặc đến nhà."
            )
            return await _page(request, errors={handoff_id: problem}, status=409)
        outbox_key = f"web:reply:{handoff.id}:{key}"
        if not key or await session.scalar(
            select(OutboundMessage.id).where(OutboundMessage.key == outbox_key)
        ):
            raise see_other_inbox("replied")  # the same form sent twice: already queued once
        queue_message(
            session,
            key=outbox_key,
            channel=Channel.CS,
            recipient_id=resident.zalo_user_id,
            text=text,
            purpose="handoff_reply",
            now=now,
        )
        await person_answered(session, resident)
        _audit(session, now, staff, handoff, "replied", text[:500])
        await session.commit()
    rt.outbox.wake()
    raise see_other_inbox("replied")


@desk_page
async def close(request: web.Request) -> web.StreamResponse:
    """POST /admin/inbox/{id}/close: hand the conversation back to the bot."""
    rt = request.app[RUNTIME]
    staff = desk_of(request).staff
    handoff_id = int(request.match_info["id"])
    now = rt.clock.now()
    async with rt.sessions() as session:
        found = await _handoff_in_reach(request, session, handoff_id)
        if found is None:
            return await refuse(request, f"hội thoại {handoff_id}")
        handoff, resident = found
        work = Work(session, now, rt.replies, key_prefix=f"web:handback:{handoff.id}")
        await hand_back(work, resident)
        _audit(session, now, staff, handoff, "closed", "trả lại cho hệ thống trả lời tự động")
        await session.commit()
    rt.outbox.wake()
    raise see_other_inbox("closed")


def see_other_inbox(done: str) -> web.HTTPSeeOther:
    """Back to the inbox, saying what was done."""
    return web.HTTPSeeOther(f"{PATH}?done={done}")
