"""Creating campaigns, spawning their firings and asking each hamlet for approval."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import AuditEntry, Commune, Hamlet, Resident, Staff, StaffRole
from bot.directory.people import may_follow, within_window
from bot.directory.roles import Action, can
from bot.outbound.channels import Channel
from bot.outbound.notices import notify_staff
from bot.outbound.outbox import queue_message
from bot.outbound.replies import MAX_TEXT, Replies
from broadcasts.models import (
    Broadcast,
    Campaign,
    CampaignCategory,
    HamletApproval,
    HouseholdCategory,
    Status,
)
from broadcasts.render import (
    PLACEHOLDER_CODE,
    AnnouncementTemplates,
    TemplateError,
    TemplateInfo,
    new_verification_code,
)
from broadcasts.timing import (
    Recurrence,
    TimingError,
    after_quiet_hours,
    check_schedule,
    dmy,
    event_day,
    firings,
    format_local,
    in_quiet_hours,
    to_local,
)
from broadcasts.tracking import ReachCache
from broadcasts.workflow import move

if TYPE_CHECKING:
    from bot.runtime import Runtime

log = logging.getLogger(__name__)

CHANNELS = ("group", "resident")
APPROVAL_LEAD = timedelta(hours=2)  # default deadline: two hours before the send time
MIN_NOTICE = timedelta(minutes=10)
AT_ONCE_WINDOW = timedelta(minutes=30)  # how long heads have to approve a post sent "now"


class CampaignError(Exception):
    """Every problem with a campaign request, in Vietnamese, for the official."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class CampaignRequest:
    """What an official asks for."""

    title: str
    template: str
    variables: dict[str, str]
    author_staff_id: int
    hamlet_ids: list[int] | None = None  # None: every hamlet of the commune
    household_categories: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=lambda: ["group", "resident"])
    send_at: datetime | None = None  # None: now
    recurrence: Recurrence | None = None
    ends_on: date | None = None
    urgent: bool = False
    skip_approval: bool = False


@dataclass
class Deps:
    """What campaign logic needs from the running service."""

    templates: AnnouncementTemplates
    replies: Replies
    base_url: str
    reach_cache: ReachCache = field(default_factory=ReachCache)


def deps_for(rt: Runtime) -> Deps:
    """The running service's announcements Deps (built by the root at start-up)."""
    assert rt.announcements is not None, "start_runtime builds the announcements' Deps"
    return rt.announcements


def first_firing(
    send_at: datetime | None,
    now: datetime,
    category: str,
    recurrence: Recurrence | None = None,
    ends_on: date | None = None,
) -> datetime:
    """When the campaign's first send goes: as asked (or now), past quiet hours unless urgent;
    for a recurring one, its first time on the schedule from then, as the compose form shows."""
    first = send_at or now
    if recurrence is not None:
        first = next(iter(firings(recurrence, first, ends_on, 1)), first)
    return first if category == CampaignCategory.URGENT else after_quiet_hours(first)


def event_date_problems(
    info: TemplateInfo, values: dict[str, str], first: datetime, now: datetime
) -> dict[str, str]:
    """Per variable: an announced day that is not a real day, has the wrong weekday, is already
    past, or is past by the time the first send goes out."""
    sent_on = to_local(first).date()
    today = to_local(now).date()
    problems: dict[str, str] = {}
    for var in info.variables:
        if var.kind != "event_date" or not values.get(var.name, "").strip():
            continue
        day, found = event_day(values[var.name], sent_on)
        if found:
            problems[var.name] = " ".join(found)
        elif day is not None and day < today:
            problems[var.name] = (
                f"“{var.label.split(' (')[0]}” ghi ngày {dmy(day)}, ngày đó đã qua. Xin sửa ngày."
            )
        elif day is not None and day < sent_on:
            problems[var.name] = (
                f"“{var.label.split(' (')[0]}” ghi ngày {dmy(day)}, mà tin gửi lúc "
                f"{format_local(first)}: bà con nhận tin khi đã qua ngày đó. "
                "Xin chọn giờ gửi sớm hơn, hoặc sửa ngày."
            )
    return problems


async def validate(
    session: AsyncSession, req: CampaignRequest, deps: Deps, now: datetime
) -> tuple[Staff, Commune, list[Hamlet], list[str]]:
    """Check a request; returns the author, commune, hamlets and every problem found (in Vietnamese)."""
    problems: list[str] = []
    author = await session.get(Staff, req.author_staff_id)
    if author is None or not author.active:
        raise CampaignError(["Không tìm thấy cán bộ tạo thông báo."])
    if not can(author, Action.RUN_CAMPAIGNS):
        problems.append("Chỉ cán bộ xã hoặc quản trị xã mới tạo được đợt thông báo.")
    commune = await session.get(Commune, author.commune_id)
    assert commune is not None
    if not req.title.strip():
        problems.append("Đợt thông báo cần có tên.")
    try:
        deps.templates.check(req.template, req.variables)
        info = deps.templates.info(req.template)
    except TemplateError as exc:
        problems.extend(exc.problems)
    else:
        category = CampaignCategory.URGENT if req.urgent else info.category
        first = first_firing(req.send_at, now, category, req.recurrence, req.ends_on)
        problems.extend(event_date_problems(info, dict(req.variables), first, now).values())
    hamlets = list(
        (
            await session.scalars(
                select(Hamlet).where(Hamlet.commune_id == commune.id).order_by(Hamlet.id)
            )
        ).all()
    )
    if req.hamlet_ids is not None:
        unknown = set(req.hamlet_ids) - {h.id for h in hamlets}
        if unknown:
            problems.append(
                f"Không có {commune.hamlet_word} nào mang mã {', '.join(map(str, sorted(unknown)))}."
            )
        hamlets = [h for h in hamlets if h.id in req.hamlet_ids]
    if not hamlets:
        problems.append(f"Chưa chọn {commune.hamlet_word} nào để gửi.")
    bad_channels = [c for c in req.channels if c not in CHANNELS]
    if bad_channels or not req.channels:
        problems.append("Kênh gửi phải là nhóm Zalo của ấp, tin nhắn riêng, hoặc cả hai.")
    bad_categories = [c for c in req.household_categories if c not in set(HouseholdCategory)]
    if bad_categories:
        problems.append(f"Không có nhóm hộ: {', '.join(bad_categories)}.")
    if req.skip_approval and not req.urgent:
        problems.append("Chỉ thông báo khẩn mới được gửi không qua duyệt.")
    if req.household_categories and "resident" not in req.channels:
        problems.append(
            "Thông báo theo nhóm hộ chỉ gửi bằng tin nhắn riêng: hãy chọn kênh tin nhắn riêng."
        )
    try:
        check_schedule(req.recurrence, req.send_at, req.ends_on, now)
    except TimingError as exc:
        problems.extend(exc.problems)
    if (
        req.recurrence is not None
        and req.recurrence.rule.startswith("cron:")
        and not can(author, Action.CRON_SCHEDULES)
    ):
        problems.append(
            "Lịch dạng cron chỉ dành cho quản trị xã; cán bộ xã dùng lịch hằng ngày, hằng tuần, hằng tháng."
        )
    return author, commune, hamlets, problems


async def create_campaign(
    session: AsyncSession, req: CampaignRequest, deps: Deps, now: datetime
) -> Campaign:
    """Validate everything, store the campaign and its first firing, and ask the hamlets; or list problems."""
    author, commune, hamlets, problems = await validate(session, req, deps, now)
    if not problems and not await _reachable(session, hamlets, req, now):
        problems.append(
            "Không có người nhận nào Zalo cho phép gửi: các ấp chọn chưa có nhóm Zalo và chưa có ai "
            "nhắn OA trong 7 ngày qua."
        )
    if problems:
        raise CampaignError(problems)

    category = CampaignCategory.URGENT if req.urgent else deps.templates.info(req.template).category
    first = first_firing(req.send_at, now, category, req.recurrence, req.ends_on)
    campaign = Campaign(
        commune_id=commune.id,
        title=req.title.strip(),
        template=req.template,
        variables=dict(req.variables),
        category=category,
        hamlet_ids=[h.id for h in hamlets],
        household_categories=list(req.household_categories),
        channels=list(req.channels),
        send_at=first,
        recurrence=req.recurrence.rule if req.recurrence else None,
        ends_on=req.ends_on,
        next_fire_at=first,
        skip_approval=req.skip_approval,
        status=Status.DRAFT,
        author_staff_id=author.id,
        created_at=now,
    )
    session.add(campaign)
    await session.flush()
    session.add(
        AuditEntry(
            at=now,
            actor_staff_id=author.id,
            entity="campaign",
            entity_id=campaign.id,
            from_status=None,
            to_status=Status.DRAFT,
            note=campaign.title,
            flagged=False,
        )
    )
    if req.skip_approval:
        session.add(
            AuditEntry(
                at=now,
                actor_staff_id=author.id,
                entity="campaign",
                entity_id=campaign.id,
                from_status=None,
                to_status=Status.DRAFT,
                note="thông báo khẩn: gửi không qua trưởng ấp duyệt",
                flagged=True,
            )
        )
    await spawn_firing(session, campaign, deps, now)
    return campaign


async def send_test(session: AsyncSession, req: CampaignRequest, deps: Deps, now: datetime) -> str:
    """ "Gửi thử": render the announcement for the first chosen hamlet and send it to its author only."""
    author, commune, hamlets, problems = await validate(session, req, deps, now)
    if problems:
        raise CampaignError(problems)
    hamlet = hamlets[0]
    text = deps.templates.render(
        req.template,
        req.variables,
        hamlet_name=hamlet.name,
        hamlet_word=commune.hamlet_word,
        commune_name=commune.name,
        language=hamlet.language,
        code=PLACEHOLDER_CODE,
        link=None,
    )
    text = f"[GỬI THỬ, chỉ anh/chị nhận được; bản gửi thật có mã xác thực riêng]\n{text}"
    queue_message(
        session,
        key=f"test:{author.id}:{now.timestamp()}",
        channel=Channel.CS,
        recipient_id=author.zalo_user_id,
        text=text,
        purpose="test",
        now=now,
    )
    return text


async def _reachable(
    session: AsyncSession, hamlets: list[Hamlet], req: CampaignRequest, now: datetime
) -> bool:
    if (
        "group" in req.channels
        and not req.household_categories
        and any(h.group_id for h in hamlets)
    ):
        return True
    if "resident" in req.channels:
        residents = await session.scalars(
            select(Resident).where(
                Resident.hamlet_id.in_([h.id for h in hamlets]),
                may_follow(),
                Resident.opted_out.is_(False),
            )
        )
        return any(within_window(r, now) for r in residents)
    return False


async def spawn_firing(
    session: AsyncSession, campaign: Campaign, deps: Deps, now: datetime
) -> Broadcast | None:
    """Create the firing due at campaign.next_fire_at (once: fire times are unique per campaign)."""
    fire_at = campaign.next_fire_at
    if fire_at is None:
        return None
    existing = await session.scalar(
        select(Broadcast).where(Broadcast.campaign_id == campaign.id, Broadcast.fire_at == fire_at)
    )
    if existing is not None:
        return existing
    deadline = fire_at - APPROVAL_LEAD
    if deadline < now + MIN_NOTICE:
        # Sent "now": each hamlet gets it as its head approves, for half an hour (past quiet hours,
        # when those hold it anyway: a head may answer until 06:00, and it goes out then).
        deadline = fire_at + AT_ONCE_WINDOW
        if campaign.category != CampaignCategory.URGENT:
            deadline = after_quiet_hours(deadline)

    async def taken(code: str) -> bool:
        return await session.scalar(select(Broadcast.id).where(Broadcast.code == code)) is not None

    code = new_verification_code()
    while await taken(code):
        code = new_verification_code()
    broadcast = Broadcast(
        campaign_id=campaign.id,
        fire_at=fire_at,
        approval_deadline=deadline,
        code=code,
        status=Status.AWAITING,
        test_only=False,
        deadline_notified=False,
        created_at=now,
    )
    session.add(broadcast)
    await session.flush()
    move(session, campaign, Status.AWAITING, now)
    commune = await session.get(Commune, campaign.commune_id)
    assert commune is not None
    for hamlet_id in campaign.hamlet_ids:
        hamlet = await session.get(Hamlet, hamlet_id)
        if hamlet is None:
            continue
        text = render_for(deps, campaign, broadcast, hamlet, commune, link=None)
        approval = HamletApproval(
            broadcast_id=broadcast.id,
            hamlet_id=hamlet.id,
            status=Status.AWAITING,
            text=text,
            requested_at=now,
        )
        session.add(approval)
        await session.flush()
        if campaign.skip_approval:
            move(
                session,
                approval,
                Status.APPROVED,
                now,
                actor=campaign.author_staff_id,
                note="thông báo khẩn, không qua duyệt",
                flagged=True,
            )
            continue
        approver = await approver_for(session, hamlet, campaign.author_staff_id)
        approval.approver_staff_id = approver.id if approver else None
        if approver is None:
            log.warning("campaign %s: nobody can approve for hamlet %s", campaign.id, hamlet.id)
            continue
        await request_approval(
            session, deps, approval, approver, campaign, broadcast, hamlet, commune, now
        )
    if campaign.skip_approval:
        move(session, broadcast, Status.SCHEDULED, now, note="thông báo khẩn")
        move(session, campaign, Status.SCHEDULED, now)
    return broadcast


async def firing_numbers(session: AsyncSession, broadcast_ids: list[int]) -> dict[int, int]:
    """Each firing's place in its own campaign by send time: 1 for a campaign's first send."""
    if not broadcast_ids:
        return {}
    numbered = (
        select(
            Broadcast.id,
            func.row_number()
            .over(partition_by=Broadcast.campaign_id, order_by=(Broadcast.fire_at, Broadcast.id))
            .label("number"),
        )
        .where(
            Broadcast.campaign_id.in_(
                select(Broadcast.campaign_id).where(Broadcast.id.in_(broadcast_ids))
            )
        )
        .subquery()
    )
    rows = await session.execute(
        select(numbered.c.id, numbered.c.number).where(numbered.c.id.in_(broadcast_ids))
    )
    return {int(firing): int(number) for firing, number in rows.all()}


def render_for(
    deps: Deps,
    campaign: Campaign,
    broadcast: Broadcast,
    hamlet: Hamlet,
    commune: Commune,
    link: str | None,
    *,
    language: str | None = None,
) -> str:
    """The announcement text for one hamlet (its language, or `language`), with the firing's
    code and link."""
    return deps.templates.render(
        campaign.template,
        campaign.variables,
        hamlet_name=hamlet.name,
        hamlet_word=commune.hamlet_word,
        commune_name=commune.name,
        language=language or hamlet.language,
        code=broadcast.code,
        link=link,
    )


def sends_as_approved(broadcast: Broadcast) -> bool:
    """A post sent "now": each hamlet gets it as soon as its head approves, until the deadline."""
    return broadcast.approval_deadline > broadcast.fire_at


def send_words(broadcast: Broadcast, campaign: Campaign, word: str) -> str:
    """When the firing goes out, as heads and authors are told: "gửi lúc …" or "gửi ngay khi …"."""
    if not sends_as_approved(broadcast):
        return f"gửi lúc {format_local(broadcast.fire_at)}"
    at_once = f"gửi ngay tới từng {word} khi được duyệt"
    if campaign.category == CampaignCategory.URGENT:
        return at_once
    start = after_quiet_hours(broadcast.fire_at)
    if start > broadcast.fire_at:  # posted in quiet hours
        return f"gửi lúc {format_local(start)} (hết giờ nghỉ đêm) tới các {word} đã được duyệt"
    if in_quiet_hours(broadcast.fire_at + AT_ONCE_WINDOW):  # the half hour runs into the night
        return f"{at_once}; duyệt sau 21h thì gửi lúc {format_local(broadcast.approval_deadline)}"
    return at_once


def vietnamese_for(
    deps: Deps, campaign: Campaign, broadcast: Broadcast, hamlet: Hamlet, commune: Commune
) -> str:
    """The Vietnamese text beside a hamlet's own-language variant, for a head who may not read it;
    empty when the hamlet gets Vietnamese already."""
    if (
        hamlet.language in ("", "vi")
        or hamlet.language not in deps.templates.info(campaign.template).languages
    ):
        return ""
    return render_for(deps, campaign, broadcast, hamlet, commune, link=None, language="vi")


async def approver_for(session: AsyncSession, hamlet: Hamlet, author_staff_id: int) -> Staff | None:
    """The hamlet's head; a commune admin (then an official) when the head wrote it or there is none."""
    candidates = [
        select(Staff).where(Staff.hamlet_id == hamlet.id, Staff.role == StaffRole.HAMLET_HEAD),
        select(Staff).where(Staff.commune_id == hamlet.commune_id, Staff.role == StaffRole.ADMIN),
        select(Staff).where(
            Staff.commune_id == hamlet.commune_id, Staff.role == StaffRole.OFFICIAL
        ),
    ]
    for query in candidates:
        for staff in (
            await session.scalars(query.where(Staff.active.is_(True)).order_by(Staff.id))
        ).all():
            if staff.id != author_staff_id:  # nobody approves their own campaign
                return staff
    return None


async def request_approval(
    session: AsyncSession,
    deps: Deps,
    approval: HamletApproval,
    approver: Staff,
    campaign: Campaign,
    broadcast: Broadcast,
    hamlet: Hamlet,
    commune: Commune,
    now: datetime,
) -> None:
    """Send the approval request: 1:1 when Zalo lets us reach the approver, else in the commune group."""
    details = {
        "title": campaign.title,
        "hamlet": hamlet.name,
        "when": send_words(broadcast, campaign, commune.hamlet_word),
        "deadline": format_local(broadcast.approval_deadline),
        "text": approval.text,
        "vietnamese": vietnamese_for(deps, campaign, broadcast, hamlet, commune),
    }
    if len(approval.text) + len(details["vietnamese"]) > MAX_TEXT - 400:
        details["vietnamese"] = ""  # both would not fit one Zalo message: the desk shows both
    title = f"Trưởng {commune.hamlet_word}" if approver.role == StaffRole.HAMLET_HEAD else "Anh/chị"
    await notify_staff(
        session,
        now,
        approver,
        deps.replies.render("approval_request", approver_title=title, **details),
        key=f"appr:{approval.id}",
        purpose="approval",
        in_group=lambda tag: deps.replies.render("approval_group_request", mention=tag, **details),
    )
