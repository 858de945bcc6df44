"""The signed-in person's own account: their password, and signing out of every device.

Passwords of others are still set with `loa staff password`, never typed on the desk. Here a person
sets or changes only their own: a head who signed in through Zalo may add one for the office
computer. A wrong current password counts towards the same per-phone limit as the sign-in form.
"""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web
from sqlalchemy import delete

from bot.keys import RUNTIME
from bot.web.auth import client_address, desk_of, desk_page
from bot.web.desk import render_desk
from bot.web.models import SigninAttempt, WebSession
from bot.web.passwords import hash_password, password_problem, verify_password
from bot.web.signin import ATTEMPT_WINDOW, PHONE_LIMIT, audit, failures

PATH = "/admin/account"


def _page(
    request: web.Request, *, errors: dict[str, str] | None = None, done: str = "", status: int = 200
) -> web.Response:
    staff = desk_of(request).staff
    context: dict[str, Any] = {
        "title": "Tài khoản của tôi",
        "has_password": staff.password_hash is not None,
        "errors": errors or {},
        "done": done,
    }
    return render_desk(request, "account.html", context, status=status)


@desk_page
async def account_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/account: who is signed in, and the password form."""
    done = request.query.get("done", "")
    return _page(request, done=done if done == "password" else "")


@desk_page
async def set_password(request: web.Request) -> web.StreamResponse:
    """POST /admin/account/password: `current` (when there is one), `new`, `again`."""
    rt = request.app[RUNTIME]
    desk = desk_of(request)
    form = await request.post()
    current, new, again = (str(form.get(k, ""))[:200] for k in ("current", "new", "again"))
    errors: dict[str, str] = {}
    now = rt.clock.now()
    async with rt.sessions() as session:
        staff = await session.get(type(desk.staff), desk.staff.id)
        assert staff is not None  # desk_page let a live session through
        if staff.phone is None:
            errors["new"] = "Tài khoản chưa có số điện thoại nên chưa đăng nhập bằng mật khẩu được."
        elif staff.password_hash is not None:
            phone = staff.phone
            # Stored before it is judged, as on the sign-in form, so guesses sent at once all count.
            attempt = SigninAttempt(
                at=now, phone=phone, address=client_address(request)[:64], ok=False
            )
            session.add(attempt)
            await session.commit()
            since = now - ATTEMPT_WINDOW
            if await failures(session, SigninAttempt.phone, phone, since) > PHONE_LIMIT:
                minutes = int(ATTEMPT_WINDOW.total_seconds() // 60)
                errors["current"] = f"Nhập sai quá nhiều lần. Xin đợi {minutes} phút rồi thử lại."
            elif not await asyncio.to_thread(verify_password, staff.password_hash, current):
                errors["current"] = "Mật khẩu hiện tại không đúng."
                audit(session, now, staff, "failed", "mật khẩu hiện tại, khi đổi mật khẩu")
            else:
                attempt.ok = True
        if not errors:
            problem = password_problem(new)
            if problem:
                errors["new"] = problem
            elif new != again:
                errors["again"] = "Hai lần nhập mật khẩu mới không giống nhau."
        if errors:
            await session.commit()
            return _page(request, errors=errors, status=400)
        staff.password_hash = await asyncio.to_thread(hash_password, new)
        # A new password ends every other session; this device stays signed in.
        ended = await session.execute(
            delete(WebSession).where(
                WebSession.staff_id == staff.id, WebSession.id != desk.session.id
            )
        )
        count = int(getattr(ended, "rowcount", 0) or 0)
        audit(
            session, now, staff, "password_set", f"tự đặt trên trang; {count} phiên khác kết thúc"
        )
        await session.commit()
    raise web.HTTPSeeOther(PATH + "?done=password")


def add_routes(app: web.Application) -> None:
    """The own-account page (linked from the name in the header, not from the menu)."""
    app.router.add_get(PATH, account_page)
    app.router.add_post(PATH + "/password", set_password)
