"""A resident writes "xoá dữ liệu": confirm once, then forget them."""

from __future__ import annotations

from sqlalchemy import select

from bot.chat.conversation import conversation_for
from bot.chat.models import Conversation
from bot.directory.models import Resident
from bot.directory.people import default_commune, resident_for
from bot.inbound.context import Context
from bot.inbound.events import UserText
from bot.text import fold
from broadcasts.privacy import forget_resident

FORGET_WORDS = {
    "xoa du lieu",
    "xoa thong tin",
    "xoa du lieu cua toi",
    "xoa thong tin cua toi",
    "xoa tai khoan",
    "xoa het thong tin",
    "xoa thong tin ca nhan",
    "xoa du lieu ca nhan",
}


CONFIRM_WORDS = {"1", "dong y", "xoa", "co", "dong y xoa", "ok"}


async def on_text(ctx: Context, event: UserText) -> bool:
    """ "Xoá dữ liệu": ask once for confirmation, then forget the resident; False for anything else."""
    folded = fold(event.text)
    resident = await ctx.session.scalar(
        select(Resident).where(Resident.zalo_user_id == event.user_id)
    )
    conv = (
        await ctx.session.scalar(
            select(Conversation).where(Conversation.resident_id == resident.id)
        )
        if resident is not None
        else None
    )
    commune = await default_commune(ctx.session)
    name = commune.name if commune else "xã"
    if conv is not None and (conv.pending or {}).get("kind") == "forget":
        conv.pending = None
        if folded in CONFIRM_WORDS:
            await forget_resident(ctx.session, event.user_id, ctx.now)
            ctx.say(
                event.user_id, "forget_done", commune=name
            )  # queued after: it must not be cancelled
        else:
            ctx.say(event.user_id, "forget_kept")
        return True
    if folded not in FORGET_WORDS:
        return False
    resident = await resident_for(ctx.session, event.user_id, ctx.now)
    conv = await conversation_for(ctx.session, resident, ctx.now)
    conv.pending = {"kind": "forget"}
    word = commune.hamlet_word if commune else "ấp"
    ctx.say(event.user_id, "forget_confirm", commune=name, hamlet_word=word)
    return True
