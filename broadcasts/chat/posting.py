"""An official posts an announcement in the commune's Zalo group; the bot takes it to every hamlet."""

from __future__ import annotations

import re

from sqlalchemy import select

from bot.directory.models import Commune
from bot.directory.people import staff_for
from bot.directory.roles import Action, can
from bot.inbound.context import Context
from bot.inbound.events import GroupText
from bot.zalo.mentions import escape_mentions
from broadcasts.campaigns import (
    CampaignError,
    CampaignRequest,
    Deps,
    create_campaign,
    send_words,
)
from broadcasts.models import Broadcast
from broadcasts.render import TemplateError
from broadcasts.timing import format_local

# "#thongbao", "#thông báo" or "Thông báo:" opens a post meant for every hamlet.
_OPENING = re.compile(
    r"^\s*(?:#\s*th[oô]ng\s*b[aá]o\b|th[oô]ng\s*b[aá]o\s*:)\s*[:\-–]?\s*", re.IGNORECASE
)
TEMPLATE = "thong-bao-chung"


def read_post(text: str) -> tuple[str, str] | None:
    """(title, body) of a post that opens with the announcement marker; None for ordinary chat."""
    match = _OPENING.match(text)
    if match is None:
        return None
    rest = text[match.end() :].strip()
    if not rest:
        return None
    first, _, more = rest.partition("\n")
    if more.strip():
        return first.strip(), more.strip()
    return (rest[:60].rsplit(" ", 1)[0] if len(rest) > 60 else rest), rest


async def on_commune_post(ctx: Context, event: GroupText, deps: Deps) -> bool:
    """Turn an official's marked post in the commune group into a campaign for all hamlets."""
    post = read_post(event.text)
    if post is None:
        return False
    commune = await ctx.session.scalar(select(Commune).where(Commune.group_id == event.group_id))
    staff = await staff_for(ctx.session, event.user_id)
    if commune is None or staff is None or not can(staff, Action.RUN_CAMPAIGNS):
        return False
    title, body = post
    request = CampaignRequest(
        title=title,
        template=TEMPLATE,
        variables={"title": title, "body": body},
        author_staff_id=staff.id,
    )
    try:
        campaign = await create_campaign(ctx.session, request, deps, ctx.now)
    except (CampaignError, TemplateError) as exc:
        reply = "Chưa tạo được thông báo: " + " ".join(exc.problems)
    else:
        firing = await ctx.session.scalar(
            select(Broadcast).where(Broadcast.campaign_id == campaign.id).order_by(Broadcast.id)
        )
        word = commune.hamlet_word
        if firing is None:
            when = f"gửi lúc {format_local(campaign.send_at or ctx.now)}"
            deadline = ""
        else:
            when = send_words(firing, campaign, word)
            deadline = f" Hạn duyệt: {format_local(firing.approval_deadline)}."
        reply = (
            f'Đã nhận thông báo "{campaign.title}" (đợt số {campaign.id}): {when}.{deadline} '
            f"Trưởng các {word} vui lòng duyệt trong tin nhắn riêng hoặc trả lời ngay tại đây."
        )
    ctx.send_group(event.group_id, escape_mentions(reply), purpose="notice")
    return True
