"""A staff member sends "đăng nhập" to the OA: the bot answers with a one-time sign-in link.

An account made without a Zalo id is linked the same way: an admin issues a code on the desk and
reads it to the person, who sends "đăng nhập" and the code from their own Zalo.
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.directory.models import Commune, Staff
from bot.directory.people import resident_for, staff_for
from bot.directory.roles import POLICY, Action, role_label
from bot.directory.staffing import audit_staff
from bot.inbound.context import Context
from bot.inbound.events import UserText
from bot.text import fold
from bot.web.auth import new_token, token_hash
from bot.web.models import SigninAttempt, ZaloLinkCode
from bot.web.signin import LINK_LIFETIME, LINK_PATH, create_link

SIGNIN_WORDS = frozenset(
    {"dang nhap", "dang nhap web", "dang nhap trang web", "dang nhap ban lam viec", "login"}
)
CODE_DIGITS = 8
CODE_LIFETIME = timedelta(hours=24)
# Wrong codes one Zalo account may send in CODE_WINDOW before the bot stops checking them.
CODE_TRIES = 5
CODE_WINDOW = timedelta(hours=1)
_WITH_CODE = re.compile(r"^(?:dang nhap|login)(?: ma)? ([\d ]{8,20})$")


def code_hash(code: str) -> str:
    """How a link code is kept: its SHA-256, under a prefix of its own (never a link's token)."""
    return token_hash("zalo-link:" + code)


async def issue_link_code(
    session: AsyncSession, staff: Staff, now: datetime, actor_id: int | None
) -> tuple[str, datetime]:
    """A new code for this account (earlier unused ones stop working) and when it expires."""
    await session.execute(
        delete(ZaloLinkCode).where(
            ZaloLinkCode.staff_id == staff.id, ZaloLinkCode.used_at.is_(None)
        )
    )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    expires = now + CODE_LIFETIME
    session.add(
        ZaloLinkCode(
            code_hash=code_hash(code), staff_id=staff.id, created_at=now, expires_at=expires
        )
    )
    audit_staff(session, now, staff, "link_code", "tạo mã liên kết Zalo", actor_id)
    await session.flush()
    return code, expires


def _says_code(event: UserText) -> str | None:
    """The digits of "đăng nhập 1234 5678", or None when the message is not that."""
    found = _WITH_CODE.match(fold(event.text))
    if found is None:
        return None
    digits = found.group(1).replace(" ", "")
    return digits if len(digits) == CODE_DIGITS else None


async def _wrong_codes(session: AsyncSession, user_id: str, since: datetime) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(SigninAttempt)
        .where(
            SigninAttempt.phone == "zalo:" + user_id[:27],
            SigninAttempt.at >= since,
            SigninAttempt.ok.is_(False),
        )
    )
    return int(count or 0)


async def _link_by_code(ctx: Context, event: UserText, code: str) -> Staff | None:
    """The account this code links the sender's Zalo to, now linked; None (and a reply) if not."""
    session, now, user = ctx.session, ctx.now, event.user_id
    if await _wrong_codes(session, user, now - CODE_WINDOW) >= CODE_TRIES:
        ctx.say(user, "link_code_wrong", tries_over=True)
        return None
    found = (
        await session.execute(
            select(ZaloLinkCode, Staff)
            .join(Staff, Staff.id == ZaloLinkCode.staff_id)
            .where(
                ZaloLinkCode.code_hash == code_hash(code),
                ZaloLinkCode.used_at.is_(None),
                ZaloLinkCode.expires_at > now,
                Staff.active.is_(True),
            )
        )
    ).first()
    if found is None:
        session.add(SigninAttempt(at=now, phone="zalo:" + user[:27], address="zalo", ok=False))
        ctx.say(user, "link_code_wrong", tries_over=False)
        return None
    link, staff = found
    holder = await staff_for(session, user)
    if holder is not None and holder.id != staff.id:
        ctx.say(user, "link_code_taken", holder=holder.name)
        return None
    link.used_at = now  # the admin made the code, so it may also replace a lost Zalo account
    staff.zalo_user_id = user
    audit_staff(session, now, staff, "zalo_linked", "gắn tài khoản Zalo bằng mã liên kết")
    return staff


async def on_text(ctx: Context, event: UserText) -> bool:
    """ "đăng nhập" from active staff: a link for them, 1:1; False for anyone and anything else.

    "đăng nhập" with a link code first links the sender's Zalo to the account the code was made
    for. Installed before every other handler, so a head with an approval pending gets a link and
    the words are never read as an answer to it.
    """
    code = _says_code(event)
    if code is None and fold(event.text) not in SIGNIN_WORDS:
        return False
    if code is not None or await staff_for(ctx.session, event.user_id) is not None:
        # Writing to the OA opens Zalo's 7-day window, whichever handler reads the message:
        # a head who just signed in can be asked to approve 1:1.
        resident = await resident_for(ctx.session, event.user_id, ctx.now)
        resident.last_interaction_at = ctx.now
    staff = (
        await _link_by_code(ctx, event, code)
        if code is not None
        else await staff_for(ctx.session, event.user_id)
    )
    if staff is None:
        return code is not None  # residents saying "đăng nhập" get the bot's usual answer
    commune = await ctx.session.scalar(select(Commune).where(Commune.id == staff.commune_id))
    role = role_label(staff.role, commune.hamlet_word if commune else "ấp")
    if code is not None:
        approves = staff.role in POLICY[Action.APPROVE]
        ctx.say(
            event.user_id, "link_code_done", staff_name=staff.name, role=role, approves=approves
        )
    token = new_token()
    await create_link(ctx.session, staff, ctx.now, token)
    ctx.say(
        event.user_id,
        "signin_link",
        staff_name=staff.name,
        role=role,
        url=ctx.settings.base_url + LINK_PATH + token,
        minutes=int(LINK_LIFETIME.total_seconds() // 60),
    )
    return True
