"""The audit log on the desk: who did what, when; filtered by person, kind of thing and dates."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from aiohttp import web
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.chat.models import Handoff
from bot.directory.models import AuditEntry, Hamlet, Resident, Staff
from bot.directory.roles import Action, can
from bot.keys import RUNTIME
from bot.web.auth import desk_of, desk_page
from bot.web.desk import refuse, render_desk
from broadcasts.campaigns import firing_numbers
from broadcasts.models import Broadcast, Campaign, HamletApproval, Household
from broadcasts.timing import VN_TZ, format_local
from broadcasts.workflow import label

PATH = "/admin/audit"
SHOWN = 200  # newest first; narrow the filters to see older entries
ENTITIES = {
    "campaign": "đợt thông báo",
    "broadcast": "lần gửi",
    "approval": "duyệt",
    "signin": "đăng nhập",
    "staff": "tài khoản cán bộ",
    "hamlet": "đổi trưởng {word}",
    "handoff": "người dân chờ cán bộ",
    "faq": "câu hỏi thường gặp",
    "household": "hộ gia đình",
    "desk": "truy cập bị từ chối",
}

# The desk's own events; statuses of campaigns, firings and approvals are workflow's words.
EVENT_WORDS = {
    "ok": "đăng nhập được",
    "failed": "sai mật khẩu",
    "limited": "tạm khoá đăng nhập",
    "signed_out": "đăng xuất",
    "added": "thêm mới",
    "updated": "sửa",
    "disabled": "khoá tài khoản",
    "enabled": "mở lại tài khoản",
    "password_set": "đặt mật khẩu",
    "link_code": "tạo mã liên kết Zalo",
    "zalo_linked": "gắn Zalo bằng mã liên kết",
    "handed_over": "giao cho trưởng {word} mới",
    "handled": "đánh dấu đã xử lý",
    "replaced": "thay bằng bản sửa",
    "draft_saved": "lưu bản nháp",
    "draft_discarded": "bỏ bản nháp",
    "published": "đăng",
    "replied": "trả lời",
    "closed": "trả lại cho hệ thống",
    "denied": "từ chối truy cập",
    "imported": "nhập từ tệp",
}


def _word(status: str | None) -> str:
    if not status:
        return ""
    if status in EVENT_WORDS:
        return EVENT_WORDS[status]
    try:
        return label(status)
    except ValueError:
        return status


def _day(typed: str, problems: list[str], field: str) -> date | None:
    """A dd/mm/yyyy date typed in a filter; a problem named when it is not one."""
    if not typed.strip():
        return None
    try:
        return datetime.strptime(typed.strip(), "%d/%m/%Y").date()  # noqa: DTZ007 (a calendar day)
    except ValueError:
        problems.append(f"{field} “{typed}” chưa đúng: xin ghi ngày/tháng/năm, ví dụ 05/12/2026.")
        return None


async def _entity_names(
    session: AsyncSession, entries: list[AuditEntry]
) -> dict[tuple[str, int], str]:
    """What each entry is about, by name: the account, the campaign, the send, the household, the hamlet."""
    wanted: dict[str, set[int]] = {}
    for e in entries:
        if e.entity_id:
            wanted.setdefault(e.entity, set()).add(e.entity_id)
    names: dict[tuple[str, int], str] = {}
    sources = (
        (("staff", "signin"), Staff.id, Staff.name),
        (("campaign",), Campaign.id, Campaign.title),
        (("household",), Household.id, Household.code),
        (("hamlet",), Hamlet.id, Hamlet.name),
    )
    for kinds, key, column in sources:
        ids = set().union(*(wanted.get(k, set()) for k in kinds))
        if not ids:
            continue
        for row_id, name in (await session.execute(select(key, column).where(key.in_(ids)))).all():
            for kind in kinds:
                names[(kind, row_id)] = name
    # A send by its campaign and its place there, with the id the commands and links take.
    sends = sorted(wanted.get("broadcast", set()))
    if not sends:
        return names
    numbers = await firing_numbers(session, sends)
    for firing, title in (
        await session.execute(
            select(Broadcast.id, Campaign.title)
            .join(Campaign, Campaign.id == Broadcast.campaign_id)
            .where(Broadcast.id.in_(sends))
        )
    ).all():
        names[("broadcast", firing)] = f"{title}, lần {numbers[firing]} (mã lần gửi {firing})"
    return names


async def _about_hamlet(
    session: AsyncSession, commune_id: int, hamlet_id: int
) -> ColumnElement[bool]:
    """Entries that concern one hamlet: done by its staff, or about its head, households,
    residents' handoffs, approvals, or a campaign (and its sends) that targets it."""
    # A campaign keeps its hamlets as a JSON list, read here rather than in each database's JSON SQL.
    campaigns = [
        cid
        for cid, hamlets in (
            await session.execute(
                select(Campaign.id, Campaign.hamlet_ids).where(Campaign.commune_id == commune_id)
            )
        ).all()
        if hamlet_id in (hamlets or ())
    ]
    its_staff = select(Staff.id).where(Staff.hamlet_id == hamlet_id)
    return or_(
        AuditEntry.actor_staff_id.in_(its_staff),
        and_(AuditEntry.entity == "hamlet", AuditEntry.entity_id == hamlet_id),
        and_(AuditEntry.entity.in_(("staff", "signin")), AuditEntry.entity_id.in_(its_staff)),
        and_(
            AuditEntry.entity == "household",
            AuditEntry.entity_id.in_(select(Household.id).where(Household.hamlet_id == hamlet_id)),
        ),
        and_(
            AuditEntry.entity == "handoff",
            AuditEntry.entity_id.in_(
                select(Handoff.id)
                .join(Resident, Resident.id == Handoff.resident_id)
                .where(Resident.hamlet_id == hamlet_id)
            ),
        ),
        and_(
            AuditEntry.entity == "approval",
            AuditEntry.entity_id.in_(
                select(HamletApproval.id).where(HamletApproval.hamlet_id == hamlet_id)
            ),
        ),
        and_(AuditEntry.entity == "campaign", AuditEntry.entity_id.in_(campaigns)),
        and_(
            AuditEntry.entity == "broadcast",
            AuditEntry.entity_id.in_(
                select(Broadcast.id).where(Broadcast.campaign_id.in_(campaigns))
            ),
        ),
    )


@desk_page
async def audit_log(request: web.Request) -> web.StreamResponse:
    """GET /admin/audit?staff=&hamlet=&entity=&from=&to=: the newest entries that match."""
    rt = request.app[RUNTIME]
    me = desk_of(request).staff
    if not can(me, Action.SEE_AUDIT):
        return await refuse(request, "nhật ký")
    q = request.query
    problems: list[str] = []
    start = _day(q.get("from", ""), problems, "Từ ngày")
    end = _day(q.get("to", ""), problems, "Đến ngày")
    query = (
        select(AuditEntry, Staff)
        .outerjoin(Staff, Staff.id == AuditEntry.actor_staff_id)
        .order_by(AuditEntry.id.desc())
        .limit(SHOWN)
    )
    staff_filter = q.get("staff", "")
    if staff_filter.isdigit():
        query = query.where(AuditEntry.actor_staff_id == int(staff_filter))
    entity = q.get("entity", "")
    if entity in ENTITIES:
        query = query.where(AuditEntry.entity == entity)
    if start is not None:
        query = query.where(AuditEntry.at >= datetime.combine(start, time(), VN_TZ))
    if end is not None:
        query = query.where(
            AuditEntry.at < datetime.combine(end + timedelta(days=1), time(), VN_TZ)
        )
    word = desk_of(request).hamlet_word
    hamlet_filter = q.get("hamlet", "")
    async with rt.sessions() as session:
        people = (
            await session.scalars(
                select(Staff).where(Staff.commune_id == me.commune_id).order_by(Staff.name)
            )
        ).all()
        hamlets = (
            await session.scalars(
                select(Hamlet).where(Hamlet.commune_id == me.commune_id).order_by(Hamlet.name)
            )
        ).all()
        if hamlet_filter.isdigit() and int(hamlet_filter) in {h.id for h in hamlets}:
            query = query.where(await _about_hamlet(session, me.commune_id, int(hamlet_filter)))
        else:
            hamlet_filter = ""
        rows = [] if problems else (await session.execute(query)).all()
        named = await _entity_names(session, [e for e, _ in rows])
    entries = [
        {
            "at": format_local(entry.at),
            "who": actor.name if actor else "hệ thống",
            "what": ENTITIES.get(entry.entity, entry.entity).format(word=word),
            "id": entry.entity_id,
            "name": named.get((entry.entity, entry.entity_id), ""),
            "change": " → ".join(
                _word(s).format(word=word) for s in (entry.from_status, entry.to_status) if s
            ),
            "note": entry.note or "",
            "flagged": entry.flagged,
        }
        for entry, actor in rows
        # Entries by staff of another commune stay theirs (the system's own are shown to all).
        if actor is None or actor.commune_id == me.commune_id
    ]
    return render_desk(
        request,
        "audit.html",
        {
            "title": "Nhật ký",
            "entries": entries,
            "people": people,
            "hamlets": hamlets,
            "entities": {k: v.format(word=word) for k, v in ENTITIES.items()},
            "chosen": {
                "staff": staff_filter,
                "hamlet": hamlet_filter,
                "entity": entity,
                "from": q.get("from", ""),
                "to": q.get("to", ""),
            },
            "problems": problems,
            "shown": SHOWN,
        },
        status=400 if problems else 200,
    )
