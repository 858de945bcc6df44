"""Who is signed in to the desk: server-side sessions, their cookie, and the CSRF token of each form.

A session is a row (`WebSession`) keyed by the SHA-256 of a random token that only the browser
holds, in an HttpOnly, SameSite=Lax cookie (Secure when the service is served over https). Keeping
sessions in the database, not in a signed cookie, is what lets "sign out everywhere" and disabling
a staff member take effect at once, on every process.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from urllib.parse import quote

from aiohttp import BodyPartReader, MultipartReader, web
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.directory.models import Commune, Staff
from bot.keys import RUNTIME
from bot.web.handler_types import Handler
from bot.web.models import WebSession
from bot.web.pages import message_page

SESSION_COOKIE = "loa_session"
# Before sign-in there is no session to hold a CSRF token: the sign-in forms carry the value of
# this cookie instead (a double-submit token), so another site cannot sign a browser in.
SIGNIN_COOKIE = "loa_signin"
CSRF_FIELD = "csrf_token"
MAX_AGE = timedelta(days=30)  # however active, a session ends after this
SEEN_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often


@dataclass
class Desk:
    """The signed-in staff member of one request, and their session."""

    staff: Staff
    session: WebSession
    commune: Commune

    @property
    def hamlet_word(self) -> str:
        """The commune's own word for a hamlet (ấp, thôn, bản, tổ)."""
        return self.commune.hamlet_word

    @property
    def csrf_token(self) -> str:
        """The value every form of this session carries in `csrf_token`."""
        return self.session.csrf_token


DESK_KEY: web.RequestKey[Desk] = web.RequestKey("desk", Desk)
# A multipart form's reader, past its CSRF token (the first part), for the handler to go on with.
UPLOAD_KEY: web.RequestKey[MultipartReader] = web.RequestKey("upload", MultipartReader)


def token_hash(token: str) -> str:
    """How a token is kept in the database: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A fresh unguessable token (256 bits), safe in a URL or a cookie."""
    return secrets.token_urlsafe(32)


def same(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two secrets; False when either is missing."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode(), b.encode())  # bytes: any text typed may be compared


def client_address(request: web.Request) -> str:
    """The visitor's address, as the rate limit counts it (behind a trusted proxy, from it)."""
    remote = request.remote or "unknown"
    trusted = request.app[RUNTIME].settings.trusted_proxies
    if remote not in trusted:
        return remote  # X-Forwarded-For from anyone else is whatever they chose to write
    forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")]
    for address in reversed(forwarded):  # the nearest hop not ours is the visitor
        if address and address not in trusted:
            return address
    return remote


def secure_cookies(settings: Settings) -> bool:
    """Whether cookies are marked Secure: when the service is reached over https."""
    return settings.base_url.startswith("https://")


def set_cookie(response: web.StreamResponse, settings: Settings, name: str, value: str) -> None:
    """Set one of the desk's cookies: HttpOnly, SameSite=Lax, Secure over https, path /admin."""
    response.set_cookie(
        name,
        value,
        path="/admin",
        httponly=True,
        samesite="Lax",
        secure=secure_cookies(settings),
        max_age=int(MAX_AGE.total_seconds()),
    )


def signin_token(request: web.Request) -> str:
    """The sign-in forms' CSRF token: the browser's SIGNIN_COOKIE, or a new one to set."""
    token = request.cookies.get(SIGNIN_COOKIE)
    return token if token and len(token) <= 100 else new_token()


async def open_session(
    session: AsyncSession, staff: Staff, now: datetime, address: str
) -> tuple[str, WebSession]:
    """A new session for `staff`: its cookie token (given once, never stored) and its row."""
    token = new_token()
    row = WebSession(
        token_hash=token_hash(token),
        staff_id=staff.id,
        csrf_token=new_token(),
        created_at=now,
        last_seen_at=now,
        address=address[:64],
    )
    session.add(row)
    await session.flush()
    return token, row


async def close_sessions(session: AsyncSession, staff_id: int) -> int:
    """End every session of a staff member (sign out everywhere, disabled); how many ended."""
    result = await session.execute(delete(WebSession).where(WebSession.staff_id == staff_id))
    return int(getattr(result, "rowcount", 0) or 0)


async def find_session(
    session: AsyncSession, token: str | None, now: datetime, idle: timedelta
) -> Desk | None:
    """The live session a cookie token names, or None (unknown, idle too long, too old, disabled).

    A session found dead is deleted; a live one has its last_seen_at moved on.
    """
    if not token or len(token) > 100:
        return None
    found = (
        await session.execute(
            select(WebSession, Staff, Commune)
            .join(Staff, Staff.id == WebSession.staff_id)
            .join(Commune, Commune.id == Staff.commune_id)
            .where(WebSession.token_hash == token_hash(token))
        )
    ).first()
    if found is None:
        return None
    row, staff, commune = found
    if not staff.active or now - row.last_seen_at > idle or now - row.created_at > MAX_AGE:
        await session.delete(row)
        return None
    if now - row.last_seen_at >= SEEN_EVERY:
        row.last_seen_at = now
    return Desk(staff=staff, session=row, commune=commune)


def stale_form(request: web.Request) -> web.Response:
    """403 for a form without its CSRF token: an old page, or a form sent from another site."""
    return message_page(
        request,
        "Không gửi được biểu mẫu",
        [
            "Biểu mẫu đã cũ hoặc không được gửi từ trang của xã, nên không có gì được lưu.",
            "Xin tải lại trang rồi làm lại.",
        ],
        status=403,
    )


def see_other(location: str) -> web.Response:
    """303 See Other: after a form, the browser GETs `location` (a response that can carry cookies)."""
    return web.Response(status=303, headers={"Location": location})


def login_redirect(request: web.Request) -> web.HTTPSeeOther:
    """To the sign-in page, coming back here (a GET's own path) afterwards."""
    target = "/admin/login"
    if request.method == "GET" and request.path_qs != "/admin/":
        target += "?next=" + quote(request.path_qs, safe="")
    return web.HTTPSeeOther(target)


def desk_page(handler: Handler) -> Handler:
    """Let only a signed-in staff member through; a POST must carry its session's CSRF token.

    The handler finds the signed-in `Desk` in request[DESK_KEY]. Without a session, a page
    redirects to the sign-in form; a form sent without its token is refused with 403.
    """

    @wraps(handler)
    async def guarded(request: web.Request) -> web.StreamResponse:
        rt = request.app[RUNTIME]
        idle = timedelta(minutes=rt.settings.web_idle_minutes)
        async with rt.sessions() as session:
            desk = await find_session(
                session, request.cookies.get(SESSION_COOKIE), rt.clock.now(), idle
            )
            await session.commit()
        if desk is None:
            raise login_redirect(request)
        if request.method == "POST":
            if request.content_type == "multipart/form-data":
                # A file upload is streamed, not read whole: its first part must be the token,
                # and the handler reads the rest from request[UPLOAD_KEY].
                reader = await request.multipart()
                first = await reader.next()
                if not isinstance(first, BodyPartReader) or first.name != CSRF_FIELD:
                    return stale_form(request)
                if not same(
                    (await first.read(decode=True))[:200].decode(errors="replace"), desk.csrf_token
                ):
                    return stale_form(request)
                request[UPLOAD_KEY] = reader
            else:
                form = await request.post()
                if not same(str(form.get(CSRF_FIELD, "")), desk.csrf_token):
                    return stale_form(request)
        request[DESK_KEY] = desk
        return await handler(request)

    return guarded


def desk_of(request: web.Request) -> Desk:
    """The signed-in Desk of a request let through by `desk_page`."""
    return request[DESK_KEY]  # a KeyError here: the handler is not wrapped in desk_page
