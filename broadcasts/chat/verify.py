"""Scam defence: a resident sends a verification code (or a forwarded message) and learns if it is real."""

from __future__ import annotations

from sqlalchemy import select

from bot.directory.models import Commune
from bot.directory.people import default_commune, resident_for
from bot.inbound.context import Context
from bot.inbound.events import UserText
from bot.text import fold
from broadcasts.models import Broadcast, Campaign
from broadcasts.timing import format_local
from broadcasts.tracking import find_code


async def on_text(ctx: Context, event: UserText) -> bool:
    """Answer a code check; False when the message carries no code (then the FAQ answers it)."""
    code = find_code(event.text)
    mentions_code = "ma xac thuc" in fold(event.text)
    if code is None and not mentions_code:
        return False
    resident = await resident_for(ctx.session, event.user_id, ctx.now)
    resident.last_interaction_at = ctx.now
    commune = await ctx.session.get(Commune, resident.commune_id) if resident.commune_id else None
    commune = commune or await default_commune(ctx.session)
    commune_name = commune.name if commune else "xã"
    if code is None:
        ctx.say(event.user_id, "verify_no_code", commune=commune_name)
        return True
    found = (
        await ctx.session.execute(
            select(Broadcast, Campaign)
            .join(Campaign, Campaign.id == Broadcast.campaign_id)
            .where(Broadcast.code == code, Broadcast.started_at.is_not(None))
        )
    ).first()
    if found is None:
        ctx.say(event.user_id, "verify_unknown", commune=commune_name, code=code)
    else:
        broadcast, campaign = found
        sender = await ctx.session.get(Commune, campaign.commune_id)
        ctx.say(
            event.user_id,
            "verify_genuine",
            commune=sender.name if sender else commune_name,
            code=code,
            title=campaign.title,
            when=format_local(broadcast.fire_at),
        )
    return True
