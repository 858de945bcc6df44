"""A staff member sends "đăng nhập" to the OA: the bot answers with a one-time sign-in link."""

from __future__ import annotations

from sqlalchemy import select

from bot.directory.models import Commune
from bot.directory.people import staff_for
from bot.directory.roles import role_label
from bot.inbound.context import Context
from bot.inbound.events import UserText
from bot.text import fold
from bot.web.auth import new_token
from bot.web.signin import LINK_LIFETIME, LINK_PATH, create_link

SIGNIN_WORDS = frozenset(
    {"dang nhap", "dang nhap web", "dang nhap trang web", "dang nhap ban lam viec", "login"}
)


async def on_text(ctx: Context, event: UserText) -> bool:
    """ "đăng nhập" from active staff: a link for them, 1:1; False for anyone and anything else.

    Installed before every other handler, so a head with an approval pending gets a link and
    the words are never read as an answer to it.
    """
    if fold(event.text) not in SIGNIN_WORDS:
        return False
    staff = await staff_for(ctx.session, event.user_id)
    if staff is None:
        return False  # residents get the bot's usual answer
    commune = await ctx.session.scalar(select(Commune).where(Commune.id == staff.commune_id))
    token = new_token()
    await create_link(ctx.session, staff, ctx.now, token)
    ctx.say(
        event.user_id,
        "signin_link",
        staff_name=staff.name,
        role=role_label(staff.role, commune.hamlet_word if commune else "ấp"),
        url=ctx.settings.base_url + LINK_PATH + token,
        minutes=int(LINK_LIFETIME.total_seconds() // 60),
    )
    return True
