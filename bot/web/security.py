"""Headers every desk response carries, and the desk's own error pages."""

from __future__ import annotations

import logging

from aiohttp import web

from bot.web.desk import not_found
from bot.web.handler_types import Handler
from bot.web.pages import message_page

log = logging.getLogger(__name__)

DESK_PREFIX = "/admin"
# No inline script or style anywhere on the desk: a text someone typed can never run.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


def _secure(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers.setdefault("Cache-Control", "no-store")  # pages hold people's data


@web.middleware
async def desk_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """On /admin: the security headers on every answer, errors included, and errors in Vietnamese."""
    if not request.path.startswith(DESK_PREFIX):
        return await handler(request)
    try:
        response = await handler(request)
    except (web.HTTPNotFound, web.HTTPMethodNotAllowed):
        response = not_found(request)
    except web.HTTPException as answer:  # redirects, a form too large, …: sent as they are
        _secure(request, answer)
        raise
    except Exception:
        log.exception("desk page %s %s failed", request.method, request.path)
        response = message_page(
            request,
            "Có lỗi khi mở trang",
            [
                "Trang chưa mở được do lỗi của hệ thống; không có gì bị thay đổi thêm.",
                "Xin thử lại sau ít phút.",
            ],
            status=500,
        )
    _secure(request, response)
    return response
