"""`loa campaign …` and `loa households …`: driving announcements from the command line."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timedelta
from pathlib import Path
from typing import TextIO

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.clock import Clock, SystemClock
from bot.config import Settings
from bot.db.engine import Sessions
from bot.directory.hamlet_names import HamletNames, UnknownHamlet, hamlet_named
from bot.directory.models import Hamlet, Staff
from bot.directory.people import UnknownCommune, select_commune
from bot.outbound.replies import Replies
from bot.outbound.work import Work
from bot.text import fold
from broadcasts import actions
from broadcasts.campaigns import (
    CampaignError,
    CampaignRequest,
    Deps,
    create_campaign,
    firing_numbers,
    send_test,
)
from broadcasts.delivery import copies_line, unsent_copies, unsent_lines
from broadcasts.models import Broadcast, Campaign, HamletApproval
from broadcasts.reach_gaps import firing_gaps, gaps_words
from broadcasts.render import AnnouncementTemplates, TemplateError
from broadcasts.timing import TimingError, format_local, parse_local_datetime, parse_recurrence
from broadcasts.tracking import reach, reach_csv
from broadcasts.workflow import label

# The household groups as the error lists them, in the words officials read.
CATEGORY_CHOICES = "nghèo, cận nghèo, mới thoát nghèo, khác"
CATEGORY_WORDS = {
    "ngheo": "poor",
    "can ngheo": "near_poor",
    "thoat ngheo": "newly_escaped",
    "moi thoat ngheo": "newly_escaped",
    "poor": "poor",
    "near_poor": "near_poor",
    "newly_escaped": "newly_escaped",
    "khac": "other",
    "other": "other",
}

FIRING_HELP = "the send's id, as `loa campaign show` prints it: “mã lần gửi 7”"
CAMPAIGN_HELP = "the campaign's number, as `loa campaign list` prints it"


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register the `campaign` and `households` commands."""
    camp_parser = sub.add_parser("campaign", help="announcement campaigns")
    camp_parser.add_argument(
        "--commune", help="the commune's slug or name, when the OA serves several"
    )
    camp = camp_parser.add_subparsers(dest="campaign_command", required=True)
    camp.add_parser("templates", help="list announcement templates and their variables")
    preview = camp.add_parser("preview", help="render a template for every hamlet")
    preview.add_argument("template")
    preview.add_argument("--var", action="append", default=[], metavar="NAME=VALUE")
    create = camp.add_parser("create", help="create a campaign and ask the hamlets to approve it")
    create.add_argument("--by", required=True, help="the official's Zalo user id")
    create.add_argument("--title", required=True)
    create.add_argument("--template", required=True)
    create.add_argument("--var", action="append", default=[], metavar="NAME=VALUE")
    create.add_argument("--hamlets", default="all", help="'all' or comma-separated hamlet names")
    create.add_argument(
        "--categories", default="", help="household groups: ngheo, can ngheo, thoat ngheo"
    )
    create.add_argument("--channels", default="group,resident")
    create.add_argument("--at", help='e.g. "20/12 19h30", "thứ Sáu tuần sau 8h"; default now')
    create.add_argument("--every", help='e.g. "hằng tuần vào thứ Sáu lúc 19h30"')
    create.add_argument("--until", help="end date of a recurring campaign, e.g. 31/12/2026")
    create.add_argument("--urgent", action="store_true")
    create.add_argument(
        "--skip-approval", action="store_true", help="urgent only, by a commune official"
    )
    create.add_argument("--test", action="store_true", help="gửi thử: send it to yourself only")
    camp.add_parser("list", help="campaigns and their status")
    show = camp.add_parser("show", help="a campaign's firings, approvals and reach")
    show.add_argument("id", type=int, help=CAMPAIGN_HELP)
    approve = camp.add_parser("approve", help="approve (or reject) one hamlet's copy of a firing")
    approve.add_argument("firing", type=int, help=FIRING_HELP)
    approve.add_argument("--hamlet", required=True)
    approve.add_argument("--by", required=True)
    approve.add_argument("--reject", metavar="REASON")
    cancel = camp.add_parser("cancel", help="cancel a campaign; what has not left stays unsent")
    cancel.add_argument("id", type=int, help=CAMPAIGN_HELP)
    cancel.add_argument("--by", required=True)
    retry = camp.add_parser("retry", help="gửi lại tin lỗi: resend a firing's failed copies")
    retry.add_argument("firing", type=int, help=FIRING_HELP)
    retry.add_argument("--by", required=True)
    resend = camp.add_parser(
        "resend",
        help="gửi lại tin chưa rõ: after checking Zalo, resend a firing's uncertain copies",
    )
    resend.add_argument("firing", type=int, help=FIRING_HELP)
    resend.add_argument("--hamlet", help="only this hamlet's copies (group and residents)")
    resend.add_argument("--by", required=True)
    seen = camp.add_parser(
        "seen", help="đã thấy tin: after checking Zalo, record a firing's uncertain copies as sent"
    )
    seen.add_argument("firing", type=int, help=FIRING_HELP)
    seen.add_argument("--hamlet", help="only this hamlet's copies (group and residents)")
    seen.add_argument("--by", required=True)
    offline = camp.add_parser("offline", help="record a household told off Zalo")
    offline.add_argument("firing", type=int, help=FIRING_HELP)
    offline.add_argument("--household", required=True, help="the household code")
    offline.add_argument("--method", required=True, choices=["meeting", "in_person", "loudspeaker"])
    offline.add_argument("--by", required=True)
    report = camp.add_parser("reach", help="reach per firing and hamlet as CSV (UTF-8 with BOM)")
    report.add_argument("--from", dest="start", help="dd/mm/yyyy; default 30 days ago")
    report.add_argument("--to", dest="end", help="dd/mm/yyyy; default now")
    report.add_argument("--csv", type=Path, help="write to this file instead of the screen")
    resident = sub.add_parser("resident", help="a resident's personal data").add_subparsers(
        dest="resident_command", required=True
    )
    forget = resident.add_parser("forget", help="delete a resident's data on their request")
    forget.add_argument("zalo_id")
    households = sub.add_parser("households", help="the commune's household list").add_subparsers(
        dest="households_command", required=True
    )
    imp = households.add_parser("import", help="import FILE.csv or FILE.xlsx (all or nothing)")
    imp.add_argument("--commune", help="the commune's slug or name, when the OA serves several")
    imp.add_argument("file", type=Path)


def _vars(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep:
            raise CampaignError([f"Biến '{pair}' phải viết dạng ten=gia_tri."])
        out[name.strip()] = value
    return out


async def _staff(session: AsyncSession, zalo_id: str) -> Staff:
    staff = await session.scalar(
        select(Staff).where(Staff.zalo_user_id == zalo_id, Staff.active.is_(True))
    )
    if staff is None:
        raise actions.ActionError(f"Không có cán bộ nào có mã Zalo {zalo_id}.")
    return staff


async def _campaign_of(session: AsyncSession, commune_id: int, campaign_id: int) -> Campaign:
    """The commune's campaign with this number; refused, naming it, when there is none."""
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None or campaign.commune_id != commune_id:
        raise actions.ActionError(f"Không có đợt thông báo số {campaign_id}.")
    return campaign


async def _firing_of(session: AsyncSession, commune_id: int, firing_id: int) -> str:
    """The commune's send with this id, named as `show` names it; refused when there is none."""
    found = (
        await session.execute(
            select(Broadcast, Campaign)
            .join(Campaign, Campaign.id == Broadcast.campaign_id)
            .where(Broadcast.id == firing_id, Campaign.commune_id == commune_id)
        )
    ).first()
    if found is None:
        raise actions.ActionError(f"Không có lần gửi mã {firing_id}.")
    broadcast, campaign = found
    number = (await firing_numbers(session, [broadcast.id]))[broadcast.id]
    return f"“{campaign.title}”, lần gửi {number} (mã lần gửi {broadcast.id})"


def _hamlet_named(hamlets: list[Hamlet], name: str, hamlet_word: str) -> Hamlet:
    """The commune's hamlet a typed name means, with or without its Ấp/Thôn word and diacritics."""
    try:
        return hamlet_named(hamlets, name, hamlet_word)
    except UnknownHamlet as exc:
        raise actions.ActionError(str(exc)) from exc


async def run(
    args: argparse.Namespace,
    settings: Settings,
    sessions: Sessions,
    out: TextIO = sys.stdout,
    clock: Clock | None = None,
) -> int:
    """Run one `campaign` or `households` command; Vietnamese output, non-zero exit on refusal."""
    now = (clock or SystemClock()).now()
    templates = AnnouncementTemplates(settings.templates_dir / "announcements")
    replies = Replies(settings.templates_dir)
    deps = Deps(templates=templates, replies=replies, base_url=settings.base_url)
    try:
        if args.command == "resident":
            from broadcasts.privacy import forget_resident

            async with sessions() as session:
                found = await forget_resident(session, args.zalo_id, now)
                await session.commit()
            print(
                "Đã xoá dữ liệu của người này."
                if found
                else "Không có dữ liệu nào của mã Zalo này.",
                file=out,
            )
            return 0 if found else 1
        if args.command == "households":
            from broadcasts.households import households_import_command

            return await households_import_command(
                sessions, args.file, out, sys.stderr, now, args.commune
            )
        async with sessions() as session:
            code = await _campaign(args, session, deps, settings, now, out)
            await session.commit()
            return code
    except (CampaignError, TemplateError, TimingError) as exc:
        print("Chưa tạo được đợt thông báo:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    except actions.ActionError as exc:
        print(str(exc), file=sys.stderr)
        return 1


async def _campaign(
    args: argparse.Namespace,
    session: AsyncSession,
    deps: Deps,
    settings: Settings,
    now: datetime,
    out: TextIO,
) -> int:
    cmd = args.campaign_command
    try:
        commune = await select_commune(session, args.commune)
    except UnknownCommune as exc:
        raise actions.ActionError(str(exc)) from exc
    hamlets = list(
        (
            await session.scalars(
                select(Hamlet).where(Hamlet.commune_id == commune.id).order_by(Hamlet.id)
            )
        ).all()
    )
    if cmd == "templates":
        for name in deps.templates.names():
            info = deps.templates.info(name)
            print(
                f"{name}: {info.title} ({info.category}; ngôn ngữ: {', '.join(info.languages)})",
                file=out,
            )
            for v in info.variables:
                print(
                    f"    {v.name}{'' if v.required else ' (không bắt buộc)'}: {v.label}"
                    f" — ví dụ: {v.example}",
                    file=out,
                )
        return 0
    if cmd == "preview":
        texts = deps.templates.preview(
            args.template,
            _vars(args.var),
            [(h.name, h.language) for h in hamlets],
            hamlet_word=commune.hamlet_word,
            commune_name=commune.name,
        )
        for name, text in texts.items():
            print(f"===== {name} =====\n{text}\n", file=out)
        return 0
    if cmd == "create":
        author = await _staff(session, args.by)
        chosen: list[int] | None = None
        if fold(args.hamlets) != "all":
            typed_names = HamletNames(hamlets)
            wanted = [x.strip() for x in args.hamlets.split(",") if x.strip()]
            chosen = []
            missing = []
            for typed in wanted:
                match = typed_names.matches(typed)
                if match:
                    chosen.extend(h.id for h in match)
                else:
                    missing.append(typed)
            if missing:
                word = commune.hamlet_word
                raise CampaignError(
                    [
                        f"Không có {word} {', '.join(f'“{m}”' for m in missing)}. "
                        f"Các {word} của xã: {', '.join(h.name for h in hamlets)}."
                    ]
                )
        categories = []
        for typed in [x.strip() for x in args.categories.split(",") if x.strip()]:
            if fold(typed) not in CATEGORY_WORDS:
                raise CampaignError(
                    [f"Không có nhóm hộ “{typed}”. Các nhóm hộ: {CATEGORY_CHOICES}."]
                )
            categories.append(CATEGORY_WORDS[fold(typed)])
        request = CampaignRequest(
            title=args.title,
            template=args.template,
            variables=_vars(args.var),
            author_staff_id=author.id,
            hamlet_ids=chosen,
            household_categories=categories,
            channels=[c.strip() for c in args.channels.split(",") if c.strip()],
            send_at=parse_local_datetime(args.at, now) if args.at else None,
            recurrence=parse_recurrence(args.every) if args.every else None,
            ends_on=parse_local_datetime(args.until + " 23h59", now).date() if args.until else None,
            urgent=args.urgent,
            skip_approval=args.skip_approval,
        )
        if args.test:
            await send_test(session, request, deps, now)
            print("Đã gửi thử thông báo cho riêng anh/chị qua Zalo.", file=out)
            return 0
        campaign = await create_campaign(session, request, deps, now)
        asked = (
            "thông báo khẩn, không qua duyệt"
            if request.skip_approval
            else f"đã gửi yêu cầu duyệt tới các trưởng {commune.hamlet_word}"
        )
        print(
            f"Đã tạo đợt thông báo số {campaign.id}: “{campaign.title}”, lần gửi đầu lúc "
            f"{format_local(campaign.send_at or now)}; {asked}.",
            file=out,
        )
        return 0
    if cmd == "list":
        for c in (
            await session.scalars(
                select(Campaign).where(Campaign.commune_id == commune.id).order_by(Campaign.id)
            )
        ).all():
            nxt = format_local(c.next_fire_at) if c.next_fire_at else "—"
            print(f"{c.id}. {c.title} — {label(c.status)} — lần gửi tới: {nxt}", file=out)
        return 0
    if cmd == "show":
        shown = await _campaign_of(session, commune.id, args.id)
        print(f"{shown.id}. {shown.title} — {label(shown.status)}", file=out)
        names = {h.id: h.name for h in hamlets}
        sends = (
            await session.scalars(
                select(Broadcast)
                .where(Broadcast.campaign_id == shown.id)
                .order_by(Broadcast.fire_at, Broadcast.id)  # as firing_numbers counts them
            )
        ).all()
        for number, b in enumerate(sends, start=1):
            print(
                f"  Lần gửi {number} lúc {format_local(b.fire_at)} (mã lần gửi {b.id}), "
                f"mã xác thực {b.code}: {label(b.status)}",
                file=out,
            )
            for a in (
                await session.scalars(
                    select(HamletApproval).where(HamletApproval.broadcast_id == b.id)
                )
            ).all():
                extra = f" (lý do: {a.reason})" if a.reason else ""
                print(
                    f"    {names.get(a.hamlet_id, a.hamlet_id)}: {label(a.status)}{extra}", file=out
                )
            copies = await copies_line(session, b.id)
            if copies:
                print(f"    {copies}", file=out)
            for line in unsent_lines(await unsent_copies(session, b.id), b.id):
                print(f"    {line}", file=out)
            if b.started_at:
                gaps = {g.hamlet_id: g for g in await firing_gaps(session, b.id)}
                for r in await reach(session, b.id):
                    print(
                        f"    Tiếp cận {r.hamlet}: {r.reached}/{r.households} hộ ({100 * r.rate:.0f}%), "
                        f"hộ nghèo {r.poor_reached}/{r.poor}, cận nghèo {r.near_poor_reached}/{r.near_poor}",
                        file=out,
                    )
                    if r.hamlet_id in gaps:
                        why = gaps_words(gaps[r.hamlet_id].gaps, group_sent=r.group_delivered)
                        print(f"      {why}", file=out)
        return 0
    if cmd == "cancel":
        await _campaign_of(session, commune.id, args.id)
        withheld = await actions.cancel_campaign(
            session, args.id, await _staff(session, args.by), now
        )
        print(f"Đã huỷ đợt thông báo số {args.id}; {withheld} tin chưa gửi được giữ lại.", file=out)
        return 0
    if cmd in ("approve", "retry", "resend", "seen", "offline"):
        # Whatever else is wrong, a send that is not this commune's is said first, by its id.
        firing = await _firing_of(session, commune.id, args.firing)
        return await _firing_command(
            args, session, deps, hamlets, commune.hamlet_word, now, out, firing
        )
    if cmd == "reach":
        start = (
            parse_local_datetime(args.start + " 0h", now)
            if args.start
            else now - timedelta(days=30)
        )
        end = (
            parse_local_datetime(args.end + " 23h59", now)
            if args.end
            else now + timedelta(minutes=1)
        )
        data = await reach_csv(session, commune.id, start, end)
        if args.csv:
            args.csv.write_bytes(data)
            print(f"Đã ghi {args.csv}.", file=out)
        else:
            out.write(data.decode("utf-8-sig"))
        return 0
    raise actions.ActionError(f"Không có lệnh {cmd}.")


async def _firing_command(
    args: argparse.Namespace,
    session: AsyncSession,
    deps: Deps,
    hamlets: list[Hamlet],
    hamlet_word: str,
    now: datetime,
    out: TextIO,
    firing: str,
) -> int:
    """One of the commands on one send (FIRING); `firing` names it in the answer."""
    cmd = args.campaign_command
    by = await _staff(session, args.by)
    if cmd == "approve":
        hamlet = _hamlet_named(hamlets, args.hamlet, hamlet_word)
        work = Work(session, now, deps.replies, key_prefix=f"cli:{now.timestamp()}")
        await actions.approve_for_hamlet(
            work, args.firing, hamlet.id, by, reject_reason=args.reject
        )
        done = "từ chối" if args.reject is not None else "duyệt"
        print(f"Đã ghi nhận {done} cho {hamlet.name}: {firing}.", file=out)
    elif cmd == "retry":
        count = await actions.retry_failed(session, args.firing, by, now)
        print(f"Đã xếp {count} tin lỗi để gửi lại: {firing}.", file=out)
    elif cmd in ("resend", "seen"):
        only = _hamlet_named(hamlets, args.hamlet, hamlet_word) if args.hamlet else None
        settle = actions.resend_uncertain if cmd == "resend" else actions.seen_uncertain
        count = await settle(session, args.firing, by, now, only.id if only else None)
        if cmd == "resend":
            print(
                f"Đã đưa {count} tin (chưa rõ đã đến hay chưa) vào hàng chờ gửi lại: {firing}.",
                file=out,
            )
        else:
            print(f"Đã ghi nhận {count} tin đã đến, sẽ không gửi lại: {firing}.", file=out)
    else:
        await actions.offline_reach(session, args.firing, args.household, args.method, by, now)
        print(f"Đã ghi nhận hộ {args.household} đã được báo: {firing}.", file=out)
    return 0
