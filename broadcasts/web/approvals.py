"""A head's approval queue on the desk: the text as residents will see it; approve, or reject with a reason.

The same action as answering in Zalo chat or with `loa campaign approve`
(`broadcasts.actions.approve_for_hamlet`): the same records, rules, confirmation and audit.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import Commune, Hamlet, Staff
from bot.directory.roles import Action, can, territory
from bot.keys import RUNTIME
from bot.outbound.work import Work
from bot.web.auth import desk_of, desk_page
from bot.web.desk import refuse, render_desk
from broadcasts.actions import ActionError, approve_for_hamlet
from broadcasts.campaigns import deps_for, send_words, vietnamese_for
from broadcasts.models import Broadcast, Campaign, HamletApproval, Status
from broadcasts.timing import format_local

PATH = "/admin/approvals"


@dataclass
class Pending:
    """One approval waiting on the signed-in person, as the queue shows it."""

    approval: HamletApproval
    campaign: Campaign
    broadcast: Broadcast
    hamlet: Hamlet
    fire_at: str  # "gửi lúc …", or "gửi ngay … khi được duyệt" for a post sent "now"
    deadline: str
    vietnamese: str = ""  # beside a variant in the hamlet's own language


async def pending_for_staff(session: AsyncSession, staff: Staff) -> list[Pending]:
    """Every approval waiting on this staff member in their territory, the soonest firing first."""
    query = (
        select(HamletApproval, Broadcast, Campaign, Hamlet)
        .join(Broadcast, Broadcast.id == HamletApproval.broadcast_id)
        .join(Campaign, Campaign.id == Broadcast.campaign_id)
        .join(Hamlet, Hamlet.id == HamletApproval.hamlet_id)
        .where(
            HamletApproval.approver_staff_id == staff.id,
            HamletApproval.status == Status.AWAITING,
            Broadcast.status.in_([Status.AWAITING, Status.SCHEDULED, Status.SENDING]),
        )
        .order_by(Broadcast.fire_at, HamletApproval.id)
    )
    own = territory(staff)
    if own is not None:  # a head moved to another hamlet answers for that one only
        query = query.where(HamletApproval.hamlet_id == own)
    rows = (await session.execute(query)).all()
    commune = await session.get(Commune, staff.commune_id)  # every approver works in one commune
    word = commune.hamlet_word if commune else "ấp"
    return [
        Pending(a, c, b, h, send_words(b, c, word), format_local(b.approval_deadline))
        for a, b, c, h in rows
    ]


async def _queue_page(
    request: web.Request,
    *,
    errors: dict[int, str] | None = None,
    reasons: dict[int, str] | None = None,
    status: int = 200,
) -> web.Response:
    rt = request.app[RUNTIME]
    desk = desk_of(request)
    deps = deps_for(rt)
    async with rt.sessions() as session:
        pending = await pending_for_staff(session, desk.staff)
    for p in pending:
        p.vietnamese = vietnamese_for(deps, p.campaign, p.broadcast, p.hamlet, desk.commune)
    done = request.query.get("done", "")
    return render_desk(
        request,
        "approvals.html",
        {
            "title": "Duyệt thông báo",
            "pending": pending,
            "pending_ids": {p.approval.id for p in pending},
            "errors": errors or {},
            "reasons": reasons or {},
            "done": done if done in ("approve", "reject") else "",
            "done_title": request.query.get("title", "")[:200],
        },
        status=status,
    )


@desk_page
async def queue(request: web.Request) -> web.StreamResponse:
    """GET /admin/approvals: what waits on me."""
    if not can(desk_of(request).staff, Action.APPROVE):
        return await refuse(request, "duyệt thông báo")
    return await _queue_page(request)


@desk_page
async def answer(request: web.Request) -> web.StreamResponse:
    """POST /admin/approvals/{id}: `decision` approve or reject (with `reason`)."""
    rt = request.app[RUNTIME]
    staff = desk_of(request).staff
    approval_id = int(request.match_info["id"])
    form = await request.post()
    decision = str(form.get("decision", ""))
    reason = str(form.get("reason", "")).strip()[:1000]
    async with rt.sessions() as session:
        approval = await session.get(HamletApproval, approval_id)
        if (
            approval is None
            or approval.approver_staff_id != staff.id
            or not can(staff, Action.APPROVE, approval.hamlet_id)
        ):
            return await refuse(request, f"phiếu duyệt {approval_id}")
        if decision not in ("approve", "reject"):
            return await _queue_page(
                request, errors={approval_id: "Xin chọn Duyệt hoặc Từ chối."}, status=400
            )
        if decision == "reject" and not reason:
            return await _queue_page(
                request,
                errors={approval_id: "Từ chối cần ghi lý do, để cán bộ xã biết mà sửa."},
                status=400,
            )
        broadcast = await session.get(Broadcast, approval.broadcast_id)
        campaign = await session.get(Campaign, broadcast.campaign_id) if broadcast else None
        # One decision per approval, so its key never repeats: a form sent twice queues nothing twice.
        work = Work(session, rt.clock.now(), rt.replies, key_prefix=f"web:appr:{approval_id}")
        try:
            await approve_for_hamlet(
                work,
                approval.broadcast_id,
                approval.hamlet_id,
                staff,
                reject_reason=reason if decision == "reject" else None,
            )
        except ActionError as exc:
            await session.rollback()
            return await _queue_page(
                request, errors={approval_id: str(exc)}, reasons={approval_id: reason}, status=409
            )
        await session.commit()
    rt.outbox.wake()
    title = campaign.title if campaign else ""
    raise web.HTTPSeeOther(f"{PATH}?{urlencode({'done': decision, 'title': title})}")
