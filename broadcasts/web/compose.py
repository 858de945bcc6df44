"""Writing a campaign on the desk: the form, its preview per hamlet and language, and the quota plan.

"Xem trước" shows the text each hamlet will get, its length, the firings in words and dates, and
the quota plan, with every problem named next to its field; "Tạo và gửi duyệt" stores it through
the same `create_campaign` as `loa campaign create`. With JavaScript on, the preview follows the
typing (`/static/compose.js` posts the form to the preview address); with it off, the buttons do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import AuditEntry, Commune, Hamlet, Staff
from bot.directory.roles import Action, can
from bot.keys import RUNTIME
from bot.web.auth import desk_of, desk_page
from bot.web.desk import refuse, render_desk
from broadcasts.actions import EDITABLE, ActionError, cancel_campaign
from broadcasts.campaigns import (
    CampaignError,
    CampaignRequest,
    Deps,
    create_campaign,
    deps_for,
    event_date_problems,
    first_firing,
    validate,
)
from broadcasts.models import Broadcast, Campaign, CampaignCategory
from broadcasts.quota import QuotaPlan, plan_firing
from broadcasts.render import TemplateError, TemplateInfo, language_name, text_length
from broadcasts.timing import (
    Recurrence,
    TimingError,
    firings,
    format_local,
    parse_local_datetime,
    parse_recurrence,
    recurrence_from_rule,
    to_local,
)
from broadcasts.web.campaigns import PATH
from broadcasts.workflow import HOUSEHOLD_KINDS

NEW_PATH = PATH + "/new"
NOW_SLACK = timedelta(minutes=1)  # a send time this close to creation was "now", not a time typed
PREVIEW_PATH = PATH + "/preview"
MAX_TEXT = 2000  # Zalo's limit on one text message
SHOWN_HAMLETS = 10  # previews on one page; the others differ only by the hamlet's name
SHOWN_FIRINGS = 5


@dataclass
class Draft:
    """The form as typed: every field kept as text, so a form with problems comes back as it was."""

    title: str = ""
    template: str = ""
    variables: dict[str, str] = field(default_factory=dict)
    hamlet_ids: list[int] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)
    channels: list[str] = field(default_factory=lambda: ["group", "resident"])
    at: str = ""
    every: str = ""
    until: str = ""
    urgent: bool = False
    skip_approval: bool = False
    replaces: int | None = None  # the campaign this one replaces (an edit before it goes out)


def draft_from(form: MultiDictProxy[Any]) -> Draft:
    """The draft a posted form holds; unknown values are dropped, lengths capped."""

    def text(name: str, cap: int = 200) -> str:
        return str(form.get(name, "")).strip()[:cap]

    return Draft(
        title=text("title"),
        template=text("template", 100),
        variables={
            str(k)[4:]: str(v).strip()[:1000]
            for k, v in form.items()
            if str(k).startswith("var_") and len(str(k)) <= 64
        },
        hamlet_ids=[int(v) for v in form.getall("hamlet", []) if str(v).isdigit()],
        categories=[str(v) for v in form.getall("household", []) if str(v) in HOUSEHOLD_KINDS],
        channels=[str(v) for v in form.getall("channel", []) if str(v) in ("group", "resident")],
        at=text("at", 60),
        every=text("every", 120),
        until=text("until", 20),
        urgent=form.get("urgent") == "1",
        skip_approval=form.get("skip_approval") == "1",
        replaces=int(str(form.get("replaces")))
        if str(form.get("replaces", "")).isdigit()
        else None,
    )


async def editable(session: AsyncSession, campaign: Campaign) -> bool:
    """Whether a campaign may still be changed: nothing of it has started going out."""
    if campaign.status not in EDITABLE:
        return False
    started = await session.scalar(
        select(Broadcast.id)
        .where(Broadcast.campaign_id == campaign.id, Broadcast.started_at.is_not(None))
        .limit(1)
    )
    return started is None


def draft_of(campaign: Campaign) -> Draft:
    """The compose form filled in from a stored campaign, to be changed and created again."""
    asked_now = campaign.send_at is None or campaign.send_at <= campaign.created_at + NOW_SLACK
    at = None if asked_now or campaign.send_at is None else to_local(campaign.send_at)
    every = ""
    if campaign.recurrence:
        rule = campaign.recurrence
        every = (
            "cron: " + rule.removeprefix("cron:")
            if rule.startswith("cron:")
            else recurrence_from_rule(rule).describe()
        )
    return Draft(
        title=campaign.title,
        template=campaign.template,
        variables={k: str(v) for k, v in campaign.variables.items()},
        hamlet_ids=list(campaign.hamlet_ids),
        categories=list(campaign.household_categories),
        channels=list(campaign.channels),
        at=f"{at:%d/%m/%Y} {at.hour}h{at.minute:02d}" if at else "",
        every=every,
        until=f"{campaign.ends_on:%d/%m/%Y}" if campaign.ends_on else "",
        urgent=campaign.category == CampaignCategory.URGENT,
        skip_approval=campaign.skip_approval,
        replaces=campaign.id,
    )


@dataclass
class Checked:
    """What the preview shows of a draft: its problems, texts, firings and quota plan."""

    errors: dict[str, str] = field(default_factory=dict)  # field name -> problem
    problems: list[str] = field(default_factory=list)  # not tied to one field
    request: CampaignRequest | None = None
    previews: list[dict[str, Any]] = field(default_factory=list)
    more_hamlets: int = 0
    schedule: str = ""
    upcoming: list[str] = field(default_factory=list)
    plan: QuotaPlan | None = None
    plan_finish: str = ""
    plan_others: list[tuple[str, int, str]] = field(default_factory=list)  # title, calls, when
    draft_preview: bool = False  # previews with blanks marked, while fields are missing

    @property
    def ok(self) -> bool:
        """Whether the campaign can be created as it stands."""
        return self.request is not None and not self.errors and not self.problems


def _timing(
    draft: Draft, now: datetime, errors: dict[str, str]
) -> tuple[datetime | None, Recurrence | None, date | None]:
    send_at = recurrence = ends_on = None
    try:
        send_at = parse_local_datetime(draft.at, now) if draft.at else None
    except TimingError as exc:
        errors["at"] = " ".join(exc.problems)
    try:
        recurrence = parse_recurrence(draft.every) if draft.every else None
    except TimingError as exc:
        errors["every"] = " ".join(exc.problems)
    try:
        ends_on = parse_local_datetime(draft.until + " 23h59", now).date() if draft.until else None
    except TimingError as exc:
        errors["until"] = " ".join(exc.problems)
    return send_at, recurrence, ends_on


async def check_draft(
    request: web.Request, session: AsyncSession, draft: Draft, staff: Staff, commune: Commune
) -> Checked:
    """Every problem with the draft by field, and, when it is whole, its previews and plan."""
    rt = request.app[RUNTIME]
    deps = deps_for(rt)
    now = rt.clock.now()
    out = Checked()
    word = commune.hamlet_word
    if not draft.title:
        out.errors["title"] = f"Đợt thông báo cần có tên, để cán bộ và trưởng {word} nhận ra."
    info = _info(deps.templates, draft.template)
    if info is None:
        out.errors["template"] = "Xin chọn một mẫu thông báo."
    else:
        for v in info.variables:
            if v.required and not draft.variables.get(v.name):
                out.errors[f"var_{v.name}"] = f"Cần điền {v.label.lower()}."
    if not draft.hamlet_ids:
        out.errors["hamlets"] = f"Chưa chọn {word} nào để gửi."
    if not draft.channels:
        out.errors["channels"] = (
            f"Chọn ít nhất một kênh: nhóm Zalo của {word}, hoặc tin nhắn riêng."
        )
    send_at, recurrence, ends_on = _timing(draft, now, out.errors)
    if info is None:
        return out
    category = CampaignCategory.URGENT if draft.urgent else info.category
    first = first_firing(send_at, now, category, recurrence, ends_on)
    if not {"at", "every", "until"} & out.errors.keys():
        # Checked as soon as the day is typed, whatever else is still missing.
        for name, problem in event_date_problems(info, draft.variables, first, now).items():
            out.errors[f"var_{name}"] = problem
    if out.errors:
        await _draft_previews(session, deps, draft, info, commune, out)
        return out
    req = CampaignRequest(
        title=draft.title,
        template=draft.template,
        variables={v.name: draft.variables.get(v.name, "") for v in info.variables},
        author_staff_id=staff.id,
        hamlet_ids=draft.hamlet_ids,
        household_categories=draft.categories,
        channels=draft.channels,
        send_at=send_at,
        recurrence=recurrence,
        ends_on=ends_on,
        urgent=draft.urgent,
        skip_approval=draft.skip_approval,
    )
    try:
        _, _, hamlets, problems = await validate(session, req, deps, now)
    except CampaignError as exc:
        out.problems = exc.problems
        return out
    out.problems = problems
    if problems:
        return out
    out.request = req
    try:
        out.previews = _previews(deps, req.template, dict(req.variables), hamlets, commune)
    except TemplateError as exc:
        out.problems = exc.problems
        out.request = None
        return out
    if any(p["too_long"] for p in out.previews):
        out.problems.append(f"Tin dài quá {MAX_TEXT} ký tự, Zalo không gửi được: xin viết gọn lại.")
        out.request = None
    if recurrence is not None:
        out.schedule = recurrence.describe() + (f", đến hết {ends_on:%d/%m/%Y}" if ends_on else "")
        out.upcoming = [format_local(t) for t in firings(recurrence, first, ends_on, SHOWN_FIRINGS)]
    else:
        out.schedule = "Gửi một lần"
        out.upcoming = [format_local(first)]
        if send_at is None and first > now:
            out.schedule += " (bây giờ là giờ nghỉ đêm, nên tin đi lúc 6h sáng)"
    out.plan = await plan_firing(
        session,
        hamlets,
        req.household_categories,
        req.channels,
        first,
        rt.settings.zalo_rate_per_minute,
    )
    out.plan_finish = format_local(out.plan.finish)
    out.plan_others = [(o.title, o.calls, format_local(o.fire_at)) for o in out.plan.others]
    return out


def _previews(
    deps: Deps, template: str, values: dict[str, str], hamlets: list[Hamlet], commune: Commune
) -> list[dict[str, Any]]:
    """The text each of the first hamlets would get, with its language and length."""
    texts = deps.templates.preview(
        template,
        values,
        [(h.name, h.language) for h in hamlets[:SHOWN_HAMLETS]],
        hamlet_word=commune.hamlet_word,
        commune_name=commune.name,
    )
    languages = {h.name: h.language for h in hamlets}
    return [
        {
            "hamlet": name,
            "language": language_name(languages[name]),
            "text": text,
            "length": text_length(text),
            "too_long": text_length(text) > MAX_TEXT,
        }
        for name, text in texts.items()
    ]


async def _draft_previews(
    session: AsyncSession,
    deps: Deps,
    draft: Draft,
    info: TemplateInfo,
    commune: Commune,
    out: Checked,
) -> None:
    """While fields are missing, the text as it stands, each blank shown as [its label].

    So an official sees the message take shape as they type, before every field is right."""
    query = select(Hamlet).where(Hamlet.commune_id == commune.id).order_by(Hamlet.id)
    if draft.hamlet_ids:
        query = query.where(Hamlet.id.in_(draft.hamlet_ids))
    chosen = (await session.scalars(query.limit(SHOWN_HAMLETS if draft.hamlet_ids else 1))).all()
    values = {
        v.name: draft.variables.get(v.name) or (f"[{v.label.split(' (')[0]}]" if v.required else "")
        for v in info.variables
    }
    try:
        out.previews = _previews(deps, info.name, values, list(chosen), commune)
    except TemplateError:
        return  # a value the template refuses is already among the problems listed
    out.draft_preview = True


async def _replaced(session: AsyncSession, draft: Draft, commune_id: int) -> Campaign | None:
    """The campaign this form edits, still editable; ActionError when it can no longer be."""
    if draft.replaces is None:
        return None
    old = await session.get(Campaign, draft.replaces)
    if old is None or old.commune_id != commune_id:
        raise ActionError(f"Không có đợt thông báo số {draft.replaces}.")
    if not await editable(session, old):
        raise ActionError(
            f"Đợt thông báo số {old.id} đã bắt đầu gửi hoặc đã kết thúc, không sửa được nữa: "
            "bản này chưa được lưu. Xin tạo đợt mới nếu cần."
        )
    return old


def _audit_replaced(
    session: AsyncSession, old: Campaign, new: Campaign, staff: Staff, now: datetime
) -> None:
    session.add(
        AuditEntry(
            at=now,
            actor_staff_id=staff.id,
            entity="campaign",
            entity_id=old.id,
            to_status="replaced",
            note=f"sửa: thay bằng đợt số {new.id} ({new.title})"[:500],
        )
    )


def _everyday_template(deps: Deps) -> str:
    """The template a new form starts with: a general one, never an urgent warning by accident."""
    infos = [i for i in (_info(deps.templates, n) for n in deps.templates.names()) if i]
    order = [CampaignCategory.GENERAL, CampaignCategory.MEETING, CampaignCategory.POLICY]
    for category in order:
        for i in infos:
            if i.category == category:
                return i.name
    return infos[0].name if infos else ""


def _info(templates: Any, name: str) -> TemplateInfo | None:
    if name not in templates.names():
        return None
    try:
        info: TemplateInfo = templates.info(name)
    except TemplateError:
        return None
    return info


async def _context(
    request: web.Request, session: AsyncSession, draft: Draft, checked: Checked | None
) -> dict[str, Any]:
    desk = desk_of(request)
    deps = deps_for(request.app[RUNTIME])
    hamlets = (
        await session.scalars(
            select(Hamlet).where(Hamlet.commune_id == desk.commune.id).order_by(Hamlet.name)
        )
    ).all()
    templates = [t for t in (_info(deps.templates, n) for n in deps.templates.names()) if t]
    return {
        "title": "Tạo đợt thông báo",
        "d": draft,
        "info": _info(deps.templates, draft.template),
        "templates": templates,
        "hamlets": hamlets,
        "kinds": HOUSEHOLD_KINDS,
        "checked": checked or Checked(),
        "previewed": checked is not None,
        "urgent_kind": CampaignCategory.URGENT,
    }


@desk_page
async def new_form(request: web.Request) -> web.StreamResponse:
    """GET /admin/campaigns/new: an empty form (`template` picks the template, every hamlet ticked)."""
    rt = request.app[RUNTIME]
    if not can(desk_of(request).staff, Action.RUN_CAMPAIGNS):
        return await refuse(request, "tạo đợt thông báo")
    names = deps_for(rt).templates.names()
    chosen = request.query.get("template", "")
    async with rt.sessions() as session:
        edited = request.query.get("sua", "")
        if edited.isdigit():
            campaign = await session.get(Campaign, int(edited))
            if campaign is None or campaign.commune_id != desk_of(request).commune.id:
                return await refuse(request, f"sửa đợt thông báo {edited}")
            if not await editable(session, campaign):
                raise web.HTTPSeeOther(f"{PATH}/{campaign.id}?done=not_editable")
            draft = draft_of(campaign)
            context = await _context(request, session, draft, None)
            return render_desk(request, "compose.html", context)
        ids = (
            await session.scalars(
                select(Hamlet.id).where(Hamlet.commune_id == desk_of(request).commune.id)
            )
        ).all()
        draft = Draft(template=chosen if chosen in names else _everyday_template(deps_for(rt)))
        draft.hamlet_ids = list(ids)
        return render_desk(request, "compose.html", await _context(request, session, draft, None))


@desk_page
async def submit(request: web.Request) -> web.StreamResponse:
    """POST /admin/campaigns/new: `do` is "preview" (show it again, checked) or "create"."""
    rt = request.app[RUNTIME]
    desk = desk_of(request)
    if not can(desk.staff, Action.RUN_CAMPAIGNS):
        return await refuse(request, "tạo đợt thông báo")
    form = await request.post()
    draft = draft_from(form)
    async with rt.sessions() as session:
        checked = await check_draft(request, session, draft, desk.staff, desk.commune)
        if form.get("do") == "create" and checked.ok and checked.request is not None:
            try:
                replaced = await _replaced(session, draft, desk.commune.id)
                campaign = await create_campaign(
                    session, checked.request, deps_for(rt), rt.clock.now()
                )
                if replaced is not None:
                    # One transaction: the new version exists exactly when the old is cancelled.
                    await cancel_campaign(session, replaced.id, desk.staff, rt.clock.now())
                    _audit_replaced(session, replaced, campaign, desk.staff, rt.clock.now())
            except (CampaignError, ActionError) as exc:
                await session.rollback()
                checked.problems = exc.problems if isinstance(exc, CampaignError) else [str(exc)]
            else:
                await session.commit()
                rt.outbox.wake()
                done = "replaced" if replaced is not None else "created"
                raise web.HTTPSeeOther(f"{PATH}/{campaign.id}?done={done}")
        status = 200 if form.get("do") != "create" else 400
        fresh = form.get("fresh") == "1" and form.get("do") != "create"  # another template chosen
        context = await _context(request, session, draft, None if fresh else checked)
        return render_desk(request, "compose.html", context, status=status)


@desk_page
async def preview(request: web.Request) -> web.StreamResponse:
    """POST /admin/campaigns/preview: the checked preview alone, for the page's script to show."""
    rt = request.app[RUNTIME]
    desk = desk_of(request)
    if not can(desk.staff, Action.RUN_CAMPAIGNS):
        return await refuse(request, "xem trước thông báo")
    draft = draft_from(await request.post())
    async with rt.sessions() as session:
        checked = await check_draft(request, session, draft, desk.staff, desk.commune)
        context = await _context(request, session, draft, checked)
    return render_desk(request, "compose_preview.html", context)
