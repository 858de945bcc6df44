"""The commune's campaigns on the desk: the list with filters, and one campaign's firings in full.

A campaign page shows, per firing, each hamlet's approval, the copies by state, the failures
grouped by the reason Zalo gave, the copies nobody can tell arrived, and reach per hamlet with a
link to the hamlet's households. Cancel, "gửi lại tin lỗi" and settling uncertain copies are the
same actions as `loa campaign cancel|retry|resend|seen` (`broadcasts.actions`).

These pages show every hamlet, so they are for the commune-wide roles; a head follows their own
hamlet's firings from the hamlet page and its households' reach page.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import Hamlet, Staff
from bot.directory.roles import Action, can, territory
from bot.keys import RUNTIME
from bot.outbound.models import OutboxStatus
from bot.text import fold
from bot.web.auth import desk_of, desk_page
from bot.web.desk import refuse, render_desk
from broadcasts import actions
from broadcasts.campaigns import deps_for
from broadcasts.delivery import copies_line, unsent_copies
from broadcasts.models import Broadcast, Campaign, HamletApproval, Status
from broadcasts.reach_gaps import firing_gaps, gaps_words
from broadcasts.render import TemplateError
from broadcasts.timing import firings, format_local, recurrence_from_rule
from broadcasts.tracking import HamletReach, ReachCache, reach
from broadcasts.workflow import CAMPAIGN_KINDS, HOUSEHOLD_KINDS, LABELS, label

PATH = "/admin/campaigns"
LISTED = 200  # campaigns on one list page, newest first
FIRINGS_SHOWN = 12  # of a recurring campaign, newest first
REACH_SHOWN = 3  # firings whose reach the page works out; older ones: the export
LOWEST_SHOWN = 20  # hamlets per firing, lowest reach first; all of them in the export
UNANSWERED_SHOWN = 50  # hamlets named whose approval is not (yet) a yes
NEXT_SHOWN = 5
DONE_NOTES = {
    "created": "Đã tạo đợt thông báo; trang này cho biết từng nơi đã duyệt hay chưa.",
    "cancel": "Đã huỷ đợt thông báo; {n} tin chưa gửi được giữ lại.",
    "retry": "Đã xếp {n} tin lỗi để gửi lại.",
    "resend": "Đã đưa {n} tin chưa rõ đã đến vào hàng chờ gửi lại.",
    "seen": "Đã ghi nhận {n} tin đã đến; các tin này sẽ không gửi lại.",
    "replaced": (
        "Đã lưu bản sửa thành đợt mới này và huỷ bản cũ; trưởng các ấp được hỏi duyệt lại bản mới."
    ),
    "not_editable": "Đợt này đã bắt đầu gửi hoặc đã kết thúc nên không sửa được nữa.",
}


def commune_wide(staff: Staff) -> bool:
    """Whether this person may see the commune's campaigns across every hamlet."""
    return can(staff, Action.SEE_CAMPAIGNS) and territory(staff) is None


@desk_page
async def campaign_list(request: web.Request) -> web.StreamResponse:
    """GET /admin/campaigns: newest first; `q` searches titles, `status` and `kind` filter."""
    rt = request.app[RUNTIME]
    staff = desk_of(request).staff
    if not commune_wide(staff):
        return await refuse(request, "danh sách thông báo")
    q = request.query.get("q", "").strip()[:100]
    status = request.query.get("status", "")
    kind = request.query.get("kind", "")
    query = select(Campaign).where(Campaign.commune_id == staff.commune_id)
    if status in LABELS:
        query = query.where(Campaign.status == status)
    if kind in CAMPAIGN_KINDS:
        query = query.where(Campaign.category == kind)
    async with rt.sessions() as session:
        if q:
            # A commune's campaigns are a few hundred titles: folded here, "hop" finds "Họp".
            wanted = fold(q)
            titles = await session.execute(query.with_only_columns(Campaign.id, Campaign.title))
            query = query.where(
                Campaign.id.in_([i for i, t in titles if wanted and wanted in fold(t)])
            )
        found = (await session.scalars(query.order_by(Campaign.id.desc()).limit(LISTED + 1))).all()
        authors = await _names(session, {c.author_staff_id for c in found})
    rows = [
        {
            "id": c.id,
            "title": c.title,
            "status": label(c.status),
            "kind": CAMPAIGN_KINDS.get(c.category, c.category),
            "next": format_local(c.next_fire_at) if c.next_fire_at else "",
            "schedule": _schedule(c),
            "author": authors.get(c.author_staff_id, ""),
            "hamlets": len(c.hamlet_ids),
        }
        for c in found[:LISTED]
    ]
    return render_desk(
        request,
        "campaigns.html",
        {
            "title": "Các đợt thông báo",
            "rows": rows,
            "more": len(found) > LISTED,
            "q": q,
            "status": status if status in LABELS else "",
            "kind": kind if kind in CAMPAIGN_KINDS else "",
            "statuses": [(s.value, text) for s, text in LABELS.items() if s != Status.APPROVED],
            "kinds": list(CAMPAIGN_KINDS.items()),
            "may_run": can(staff, Action.RUN_CAMPAIGNS),
        },
    )


async def _names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(
        (await session.execute(select(Staff.id, Staff.name).where(Staff.id.in_(ids)))).all()
    )


def _schedule(c: Campaign) -> str:
    """How often the campaign goes out, in words."""
    if c.recurrence:
        text = recurrence_from_rule(c.recurrence).describe()
        return f"{text}, đến hết {c.ends_on:%d/%m/%Y}" if c.ends_on else text
    return "Gửi một lần" + (f" lúc {format_local(c.send_at)}" if c.send_at else "")


@dataclass
class FiringView:
    """One firing as the campaign page shows it."""

    broadcast: Broadcast
    fire_at: str
    status: str
    approvals: list[dict[str, str]]  # those not approved, first UNANSWERED_SHOWN
    approval_counts: list[tuple[str, int]]  # status in words, how many hamlets
    copies: str | None
    failed: list[tuple[str, int]]
    uncertain: dict[str, list[str]]  # hamlet name -> recipients
    uncertain_hamlets: dict[str, int]  # hamlet name -> id, for the settle buttons
    reach: list[HamletReach] = field(default_factory=list)  # lowest first, LOWEST_SHOWN of them
    reach_hamlets: int = 0  # hamlets the firing's reach covers
    reach_total: tuple[int, int] = (0, 0)  # households reached, households
    reach_as_of: str = ""  # when the figures were worked out (they are kept a minute)
    gaps: dict[int, str] = field(default_factory=dict)  # hamlet id -> who got no 1:1 copy, why


async def _firing_view(
    session: AsyncSession,
    b: Broadcast,
    hamlets: dict[int, Hamlet],
    names: dict[int, str],
    *,
    with_reach: bool,
    cache: tuple[ReachCache, datetime],
) -> FiringView:
    approvals = (
        await session.scalars(
            select(HamletApproval)
            .where(HamletApproval.broadcast_id == b.id)
            .order_by(HamletApproval.hamlet_id)
        )
    ).all()
    shown = [
        {
            "hamlet": hamlets[a.hamlet_id].name if a.hamlet_id in hamlets else str(a.hamlet_id),
            "status": label(a.status),
            "reason": a.reason or "",
            "by": names.get(a.decided_by or a.approver_staff_id or 0, ""),
            "at": format_local(a.decided_at) if a.decided_at else "",
        }
        for a in approvals
        if a.status != Status.APPROVED
    ][:UNANSWERED_SHOWN]
    counts = Counter(label(a.status) for a in approvals)
    unsent = await unsent_copies(session, b.id)
    failed = Counter(
        c.reason or "Zalo từ chối gửi tin" for c in unsent if c.status == OutboxStatus.FAILED
    )
    uncertain: dict[str, list[str]] = {}
    for c in unsent:
        if c.status == OutboxStatus.UNCERTAIN:
            uncertain.setdefault(c.hamlet, []).append(c.recipient)
    by_name = {h.name: h.id for h in hamlets.values()}
    rows = await reach(session, b.id, cache=cache) if b.started_at and with_reach else []
    lowest = sorted(rows, key=lambda r: (r.rate, r.hamlet))[:LOWEST_SHOWN]
    gaps = {g.hamlet_id: g for g in await firing_gaps(session, b.id)} if rows else {}
    as_of = cache[0].as_of(b.id)
    return FiringView(
        broadcast=b,
        fire_at=format_local(b.fire_at),
        status=label(b.status),
        approvals=shown,
        approval_counts=counts.most_common(),
        copies=await copies_line(session, b.id),
        failed=failed.most_common(),
        uncertain=uncertain,
        uncertain_hamlets={name: by_name[name] for name in uncertain if name in by_name},
        reach=lowest,
        gaps={
            r.hamlet_id: gaps_words(gaps[r.hamlet_id].gaps, group_sent=r.group_delivered)
            for r in lowest
            if r.hamlet_id in gaps
        },
        reach_hamlets=len(rows),
        reach_total=(sum(r.reached for r in rows), sum(r.households for r in rows)),
        reach_as_of=format_local(as_of) if rows and as_of else "",
    )


async def _campaign_of(request: web.Request, session: AsyncSession) -> Campaign | None:
    """The campaign in the URL, if it is this person's commune's and they may see campaigns."""
    staff = desk_of(request).staff
    campaign = await session.get(Campaign, int(request.match_info["id"]))
    if campaign is None or campaign.commune_id != staff.commune_id or not commune_wide(staff):
        return None
    return campaign


@desk_page
async def campaign_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/campaigns/{id}: schedule, targets, and every recent firing in full."""
    rt = request.app[RUNTIME]
    staff = desk_of(request).staff
    async with rt.sessions() as session:
        campaign = await _campaign_of(request, session)
        if campaign is None:
            return await refuse(request, f"đợt thông báo {request.match_info['id']}")
        context = await _page_context(request, session, campaign, staff)
    done = request.query.get("done", "")
    if done in DONE_NOTES:  # the note is ours; only the count comes from the address
        context["done"] = DONE_NOTES[done].format(n=_int(request.query.get("n")))
    return render_desk(request, "campaign.html", context)


def _announcement(
    request: web.Request, campaign: Campaign, hamlets: dict[int, Hamlet]
) -> tuple[str, str, str]:
    """The template's title and the text as the first targeted hamlet gets it (and that hamlet)."""
    desk = desk_of(request)
    templates = deps_for(request.app[RUNTIME]).templates
    first = next((hamlets[i] for i in campaign.hamlet_ids if i in hamlets), None)
    try:
        title = templates.info(campaign.template).title
        if first is None:
            return title, "", ""
        texts = templates.preview(
            campaign.template,
            campaign.variables,
            [(first.name, first.language)],
            hamlet_word=desk.hamlet_word,
            commune_name=desk.commune.name,
        )
    except TemplateError:
        # The template was changed or removed since; the campaign still names it.
        return campaign.template, "", ""
    return title, texts.get(first.name, ""), first.name


async def _page_context(
    request: web.Request, session: AsyncSession, campaign: Campaign, staff: Staff
) -> dict[str, Any]:
    rt = request.app[RUNTIME]
    cache = (deps_for(rt).reach_cache, rt.clock.now())
    hamlets = {
        h.id: h
        for h in (
            await session.scalars(select(Hamlet).where(Hamlet.commune_id == campaign.commune_id))
        ).all()
    }
    broadcasts = (
        await session.scalars(
            select(Broadcast)
            .where(Broadcast.campaign_id == campaign.id)
            .order_by(Broadcast.fire_at.desc())
            .limit(FIRINGS_SHOWN)
        )
    ).all()
    staff_ids = {campaign.author_staff_id}
    for decided_by, approver in (
        await session.execute(
            select(HamletApproval.decided_by, HamletApproval.approver_staff_id)
            .where(HamletApproval.broadcast_id.in_([b.id for b in broadcasts]))
            .distinct()
        )
    ).all():
        staff_ids |= {decided_by or 0, approver or 0}
    names = await _names(session, staff_ids)
    views = [
        await _firing_view(session, b, hamlets, names, with_reach=i < REACH_SHOWN, cache=cache)
        for i, b in enumerate(broadcasts)
    ]
    upcoming: list[str] = []
    if campaign.recurrence and campaign.next_fire_at and campaign.status != Status.CANCELLED:
        rule = recurrence_from_rule(campaign.recurrence)
        upcoming = [
            format_local(t)
            for t in firings(rule, campaign.next_fire_at, campaign.ends_on, NEXT_SHOWN)
        ]
    open_ = campaign.status not in actions.FINISHED
    template_title, text, text_for = _announcement(request, campaign, hamlets)
    return {
        "template_title": template_title,
        "text": text,
        "text_for": text_for,
        "title": campaign.title,
        "c": campaign,
        "status": label(campaign.status),
        "kind": CAMPAIGN_KINDS.get(campaign.category, campaign.category),
        "schedule": _schedule(campaign),
        "upcoming": upcoming,
        "next": format_local(campaign.next_fire_at) if campaign.next_fire_at else "",
        "author": names.get(campaign.author_staff_id, ""),
        "targets": [hamlets[i].name for i in campaign.hamlet_ids if i in hamlets],
        "households": [HOUSEHOLD_KINDS.get(k, k) for k in campaign.household_categories],
        "channels": campaign.channels,
        "firings": views,
        "may_run": can(staff, Action.RUN_CAMPAIGNS),
        "may_cancel": can(staff, Action.RUN_CAMPAIGNS) and open_,
        "may_edit": can(staff, Action.RUN_CAMPAIGNS)
        and open_
        and campaign.status in actions.EDITABLE
        and not any(b.started_at for b in broadcasts),
        "done": "",
        "problem": "",
    }


@desk_page
async def act(request: web.Request) -> web.StreamResponse:
    """POST /admin/campaigns/{id}/{action}: cancel, retry (a firing's failures), resend or seen."""
    rt = request.app[RUNTIME]
    staff = desk_of(request).staff
    action = request.match_info["action"]
    form = await request.post()
    async with rt.sessions() as session:
        campaign = await _campaign_of(request, session)
        if campaign is None or action not in DONE_NOTES or not can(staff, Action.RUN_CAMPAIGNS):
            return await refuse(request, f"{action} đợt thông báo {request.match_info['id']}")
        now = rt.clock.now()
        firing_id = _int(form.get("firing"))
        hamlet_id = _int(form.get("hamlet"))
        if action != "cancel":
            firing = await session.get(Broadcast, firing_id) if firing_id else None
            if firing is None or firing.campaign_id != campaign.id:
                return await refuse(request, f"lần gửi mã {firing_id}")
        try:
            if action == "cancel":
                count = await actions.cancel_campaign(session, campaign.id, staff, now)
            elif action == "retry":
                count = await actions.retry_failed(session, firing_id, staff, now)
            else:
                settle = actions.resend_uncertain if action == "resend" else actions.seen_uncertain
                count = await settle(session, firing_id, staff, now, hamlet_id or None)
        except actions.ActionError as exc:
            await session.rollback()
            await session.refresh(campaign)  # the rollback expired it; the page reads it again
            context = await _page_context(request, session, campaign, staff)
            return render_desk(
                request, "campaign.html", {**context, "problem": str(exc)}, status=409
            )
        await session.commit()
    rt.outbox.wake()
    raise web.HTTPSeeOther(f"{PATH}/{campaign.id}?{urlencode({'done': action, 'n': count})}")


def _int(value: object) -> int:
    try:
        return int(str(value))
    except ValueError:
        return 0
