"""Signing in to the desk: with a password, or with a one-time link sent in Zalo; signing out.

Pinned paths: `GET /admin/login` shows the form; `POST /admin/login` takes `phone`, `password` and
`csrf_token` and redirects to `/admin/`; `POST /admin/logout` ends the session (or, with
`everywhere`, every session of that person).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import aiohttp_jinja2
from aiohttp import web
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from bot.directory.models import AuditEntry, Commune, Hamlet, Staff
from bot.directory.phones import normalise_phone
from bot.directory.roles import role_label
from bot.keys import RUNTIME
from bot.web.auth import (
    CSRF_FIELD,
    SESSION_COOKIE,
    SIGNIN_COOKIE,
    client_address,
    close_sessions,
    desk_of,
    desk_page,
    find_session,
    open_session,
    same,
    see_other,
    set_cookie,
    signin_token,
    stale_form,
    token_hash,
)
from bot.web.models import SigninAttempt, SigninLink, WebSession
from bot.web.pages import message_page
from bot.web.passwords import verify_password

LOGIN_PATH = "/admin/login"
LOGOUT_PATH = "/admin/logout"
LINK_PATH = "/admin/link/"
HOME_PATH = "/admin/"
LINK_LIFETIME = timedelta(minutes=10)
# Failed password sign-ins counted over this window: past the limits, sign-in waits it out.
ATTEMPT_WINDOW = timedelta(minutes=15)
PHONE_LIMIT = 5  # wrong passwords for one phone; the next attempt waits
ADDRESS_LIMIT = 20  # wrong passwords from one address, whatever the phone


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a desk path of ours, never another site."""
    if target and target.startswith("/admin/") and not target.startswith("//"):
        return target
    return HOME_PATH


def audit(
    session: AsyncSession, now: datetime, actor: Staff | None, status: str, note: str
) -> None:
    """One sign-in event in the audit log (entity "signin", the staff member when known)."""
    session.add(
        AuditEntry(
            at=now,
            actor_staff_id=actor.id if actor else None,
            entity="signin",
            entity_id=actor.id if actor else 0,
            to_status=status,
            note=note,
        )
    )


async def failures(
    session: AsyncSession, by: InstrumentedAttribute[str], value: str, since: datetime
) -> int:
    """Wrong passwords since `since` for one phone or one address (`by` says which)."""
    count = await session.scalar(
        select(func.count())
        .select_from(SigninAttempt)
        .where(by == value, SigninAttempt.at >= since, SigninAttempt.ok.is_(False))
    )
    return int(count or 0)


async def _signed_in(
    request: web.Request, session: AsyncSession, staff: Staff, target: str | None
) -> web.StreamResponse:
    """Open a new session (a new id: any session the browser had is ended) and go to the desk."""
    rt = request.app[RUNTIME]
    now = rt.clock.now()
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        await session.execute(delete(WebSession).where(WebSession.token_hash == token_hash(old)))
    token, _ = await open_session(session, staff, now, client_address(request))
    response = see_other(safe_next(target))
    set_cookie(response, rt.settings, SESSION_COOKIE, token)
    response.del_cookie(SIGNIN_COOKIE, path="/admin")
    return response


def _signin_page(
    request: web.Request, template: str, context: dict[str, object], *, status: int = 200
) -> web.Response:
    """A page with a sign-in form: its CSRF token, also set as the browser's SIGNIN_COOKIE."""
    token = signin_token(request)
    page = aiohttp_jinja2.render_template(
        template, request, {**context, "desk": None, "csrf_token": token}, status=status
    )
    set_cookie(page, request.app[RUNTIME].settings, SIGNIN_COOKIE, token)
    return page


def _login_form(
    request: web.Request,
    *,
    phone: str = "",
    error: str | None = None,
    status: int = 200,
    next_target: str | None = None,
    signed_in_as: str | None = None,
) -> web.Response:
    return _signin_page(
        request,
        "login.html",
        {
            "title": "Đăng nhập",
            "phone": phone,
            "error": error,
            "signed_out": "out" in request.query,
            "signed_in_as": signed_in_as,
            "next": safe_next(next_target or request.query.get("next")),
        },
        status=status,
    )


async def login_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/login: the sign-in form (saying who is signed in, if anyone)."""
    rt = request.app[RUNTIME]
    async with rt.sessions() as session:
        desk = await find_session(
            session,
            request.cookies.get(SESSION_COOKIE),
            rt.clock.now(),
            timedelta(minutes=rt.settings.web_idle_minutes),
        )
        await session.commit()
    # Signed in already: the form stays, for another person on a shared office computer.
    return _login_form(request, signed_in_as=desk.staff.name if desk else None)


async def login(request: web.Request) -> web.StreamResponse:
    """POST /admin/login: phone and password; rate-limited per phone and per address, audited."""
    rt = request.app[RUNTIME]
    form = await request.post()
    if not same(str(form.get(CSRF_FIELD, "")), request.cookies.get(SIGNIN_COOKIE)):
        return stale_form(request)
    typed = str(form.get("phone", "")).strip()[:32]
    password = str(form.get("password", ""))
    phone = normalise_phone(typed)
    address = client_address(request)[:64]
    now = rt.clock.now()
    if phone is None:
        return _login_form(
            request,
            phone=typed,
            next_target=str(form.get("next", "")),
            error="Số điện thoại chưa đúng: xin nhập 10 số, ví dụ 0912345678.",
            status=400,
        )
    async with rt.sessions() as session:
        # The attempt is stored before it is judged, so sign-ins sent at once all count it.
        attempt = SigninAttempt(at=now, phone=phone, address=address, ok=False)
        session.add(attempt)
        await session.commit()
        since = now - ATTEMPT_WINDOW
        if (
            await failures(session, SigninAttempt.phone, phone, since) > PHONE_LIMIT
            or await failures(session, SigninAttempt.address, address, since) > ADDRESS_LIMIT
        ):
            audit(session, now, None, "limited", f"{phone} từ {address}: đang tạm khoá")
            await session.commit()
            minutes = int(ATTEMPT_WINDOW.total_seconds() // 60)
            return _login_form(
                request,
                phone=typed,
                next_target=str(form.get("next", "")),
                error=f"Đăng nhập sai quá nhiều lần. Xin đợi {minutes} phút rồi thử lại, "
                "hoặc nhắn “đăng nhập” cho OA của xã trên Zalo để nhận đường dẫn đăng nhập.",
                status=429,
            )
        staff = await session.scalar(select(Staff).where(Staff.phone == phone))
        # Argon2 takes tens of milliseconds: off the event loop, so the webhook is not held up.
        # An unknown phone costs the same hashing time as a known one.
        matches = await asyncio.to_thread(
            verify_password, staff.password_hash if staff else None, password
        )
        if staff is None or not staff.active or not matches:
            audit(session, now, staff, "failed", f"mật khẩu, {phone} từ {address}")
            await session.commit()
            return _login_form(
                request,
                phone=typed,
                next_target=str(form.get("next", "")),
                error="Số điện thoại hoặc mật khẩu không đúng.",
                status=401,
            )
        attempt.ok = True
        audit(session, now, staff, "ok", f"mật khẩu, từ {address}")
        response = await _signed_in(request, session, staff, str(form.get("next", "")))
        await session.commit()
    return response


@desk_page
async def logout(request: web.Request) -> web.StreamResponse:
    """POST /admin/logout: end this session, or every session of this person (`everywhere`)."""
    rt = request.app[RUNTIME]
    desk = desk_of(request)
    everywhere = bool((await request.post()).get("everywhere"))
    now = rt.clock.now()
    async with rt.sessions() as session:
        if everywhere:
            await close_sessions(session, desk.staff.id)
        else:
            await session.execute(delete(WebSession).where(WebSession.id == desk.session.id))
        audit(
            session, now, desk.staff, "signed_out", "mọi thiết bị" if everywhere else "thiết bị này"
        )
        await session.commit()
    response = see_other(LOGIN_PATH + "?out=1")
    response.del_cookie(SESSION_COOKIE, path="/admin")
    return response


async def create_link(session: AsyncSession, staff: Staff, now: datetime, token: str) -> None:
    """Store a one-time sign-in link for `staff` (its token's hash), valid LINK_LIFETIME."""
    session.add(
        SigninLink(
            token_hash=token_hash(token),
            staff_id=staff.id,
            created_at=now,
            expires_at=now + LINK_LIFETIME,
        )
    )
    await session.flush()


async def _live_link(
    session: AsyncSession, token: str, now: datetime
) -> tuple[SigninLink, Staff] | None:
    found = (
        await session.execute(
            select(SigninLink, Staff)
            .join(Staff, Staff.id == SigninLink.staff_id)
            .where(SigninLink.token_hash == token_hash(token[:100]))
        )
    ).first()
    if found is None:
        return None
    link, staff = found
    if link.used_at is not None or link.expires_at <= now or not staff.active:
        return None
    return link, staff


def _link_gone(request: web.Request) -> web.Response:
    return message_page(
        request,
        "Đường dẫn đăng nhập không còn dùng được",
        [
            "Đường dẫn này đã được dùng, đã quá 10 phút, hoặc không đúng.",
            "Xin nhắn “đăng nhập” cho OA của xã trên Zalo để nhận đường dẫn mới.",
        ],
        status=404,
    )


async def link_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/link/{token}: say which account the link signs in; nothing is used up yet.

    Chat apps open links to draw a preview: a GET that signed in would spend the link on the
    preview. The sign-in happens on the button (a POST), on the device of the person who taps it.
    """
    rt = request.app[RUNTIME]
    async with rt.sessions() as session:
        found = await _live_link(session, request.match_info["token"], rt.clock.now())
        if found is None:
            return _link_gone(request)
        _, staff = found
        commune = await session.get(Commune, staff.commune_id)
        hamlet = await session.get(Hamlet, staff.hamlet_id) if staff.hamlet_id else None
    word = commune.hamlet_word if commune else "ấp"
    page = _signin_page(
        request,
        "signin_link.html",
        {
            "title": "Đăng nhập bằng Zalo",
            "name": staff.name,
            "role": role_label(staff.role, word),
            "hamlet": hamlet.name if hamlet else None,
            "commune": commune.name if commune else None,
        },
    )
    page.headers["Referrer-Policy"] = "no-referrer"  # the token is in this page's address
    return page


async def use_link(request: web.Request) -> web.StreamResponse:
    """POST /admin/link/{token}: spend the link (once, atomically) and sign this device in."""
    rt = request.app[RUNTIME]
    form = await request.post()
    if not same(str(form.get(CSRF_FIELD, "")), request.cookies.get(SIGNIN_COOKIE)):
        return stale_form(request)
    now = rt.clock.now()
    async with rt.sessions() as session:
        found = await _live_link(session, request.match_info["token"], now)
        if found is None:
            return _link_gone(request)
        link, staff = found
        # Two taps (or two devices) at once: only the one whose update lands signs in.
        spent = await session.execute(
            update(SigninLink)
            .where(SigninLink.id == link.id, SigninLink.used_at.is_(None))
            .values(used_at=now)
        )
        if getattr(spent, "rowcount", 0) != 1:
            await session.rollback()
            return _link_gone(request)
        audit(session, now, staff, "ok", f"đường dẫn Zalo, từ {client_address(request)}")
        response = await _signed_in(request, session, staff, None)
        await session.commit()
    return response


def add_routes(app: web.Application) -> None:
    """The sign-in and sign-out routes."""
    app.router.add_get(LOGIN_PATH, login_page)
    app.router.add_post(LOGIN_PATH, login)
    app.router.add_post(LOGOUT_PATH, logout)
    app.router.add_get(LINK_PATH + "{token}", link_page)
    app.router.add_post(LINK_PATH + "{token}", use_link)
