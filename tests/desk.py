"""A browser-less visitor of the desk: cookies kept, forms read for their CSRF token."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import aiohttp
from sqlalchemy import select
from yarl import URL

from bot.directory.models import Staff
from bot.sandbox.demo import DEMO_PASSWORD
from bot.web.auth import SESSION_COOKIE
from tests.service import Service

OFFICIAL_PHONE = "0901000007"  # Đặng Quốc Bảo, cán bộ xã (has the demo's password)
ADMIN_PHONE = "0901000008"
TAN_LAP_HEAD = "3000000000000000001"  # Nguyễn Văn Hùng, trưởng Ấp Tân Lập
TAN_THANH_HEAD = "3000000000000000002"
RESIDENT = "4000000000000000001"

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_LINK = re.compile(r"(http://\S+/admin/link/\S+)")


def csrf_in(page: str) -> str:
    """The CSRF token of the first form on a page."""
    found = _CSRF.search(page)
    assert found, "the page has no form with a csrf_token"
    return html.unescape(found.group(1))


@dataclass
class Visitor:
    """One browser: its own cookie jar, talking to the service on loopback."""

    svc: Service
    local: bool = False  # talk to the loopback port even when a public URL is configured
    http: aiohttp.ClientSession = field(init=False)

    async def __aenter__(self) -> Visitor:
        # unsafe: keep cookies for an IP address host (127.0.0.1), as a browser does
        self.http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.close()

    def url(self, path: str) -> str:
        """The service's address for a path."""
        if self.local:
            settings = self.svc.runtime.settings
            return f"http://{settings.host}:{settings.port}{path}"
        return self.svc.base_url + path

    async def get(self, path: str) -> tuple[int, str, aiohttp.ClientResponse]:
        """GET without following redirects: status, body, response."""
        async with self.http.get(self.url(path), allow_redirects=False) as r:
            return r.status, await r.text(), r

    async def post(
        self, path: str, data: dict[str, Any] | list[tuple[str, str]]
    ) -> tuple[int, str, aiohttp.ClientResponse]:
        """POST a form (pairs, when a name repeats) without following redirects: status, body, response."""
        async with self.http.post(self.url(path), data=data, allow_redirects=False) as r:
            return r.status, await r.text(), r

    async def upload(self, path: str, token: str | None, name: str, data: bytes) -> tuple[int, str]:
        """POST a file as the desk's upload forms send it: the CSRF token first, then `file`."""
        form = aiohttp.FormData()
        if token is not None:
            form.add_field("csrf_token", token)
        form.add_field("file", data, filename=name)
        async with self.http.post(self.url(path), data=form, allow_redirects=False) as r:
            return r.status, await r.text()

    async def sign_in(self, phone: str = OFFICIAL_PHONE, password: str = DEMO_PASSWORD) -> int:
        """Fill in the sign-in form; the status of the answer (303 when signed in)."""
        _, page, _ = await self.get("/admin/login")
        status, _, _ = await self.post(
            "/admin/login", {"phone": phone, "password": password, "csrf_token": csrf_in(page)}
        )
        return status

    def hold_session(self, token: str) -> None:
        """Hold this session cookie, as a browser that signed in with it would."""
        self.http.cookie_jar.update_cookies({SESSION_COOKIE: token}, URL(self.url("/admin/")))

    def session_cookie(self) -> str | None:
        """The session cookie's value, if the browser holds one."""
        for cookie in self.http.cookie_jar:
            if cookie.key == SESSION_COOKIE:
                return cookie.value
        return None

    async def form_token(self, path: str = "/admin/") -> str:
        """The CSRF token of a desk page's forms."""
        _, page, _ = await self.get(path)
        return csrf_in(page)


def last_link(svc: Service, user_id: str) -> str:
    """The path of the last sign-in link the OA sent this user."""
    for text in reversed(svc.oa_texts(user_id)):
        found = _LINK.search(text)
        if found:
            return found.group(1).removeprefix(svc.base_url)
    raise AssertionError(f"no sign-in link was sent to {user_id}")


async def head_signed_in(svc: Service, browser: Visitor, head: str = TAN_LAP_HEAD) -> None:
    """Sign a head in the way heads do: "đăng nhập" in Zalo, then the link the OA sends."""
    await svc.platform.user_send_text(head, "đăng nhập")
    await svc.settled()
    link = last_link(svc, head)
    _, page, _ = await browser.get(link)
    status, _, _ = await browser.post(link, {"csrf_token": csrf_in(page)})
    assert status == 303


async def staff_id(svc: Service, zalo_user_id: str) -> int:
    """The id of the demo staff member with this Zalo id."""
    async with svc.runtime.sessions() as s:
        found = await s.scalar(select(Staff.id).where(Staff.zalo_user_id == zalo_user_id))
    assert found is not None
    return found


IDLE_PAST = timedelta(minutes=481)  # past the default LOA_WEB_IDLE_MINUTES
