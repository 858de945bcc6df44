"""The service's root page: in sandbox mode the way to the sandbox phone and the desk, else the desk."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from bot.keys import RUNTIME
from bot.web.signin import HOME_PATH, LOGIN_PATH

PHONE_PATH = "/sandbox/"


async def start_page(request: web.Request) -> web.Response:
    """A short start page in sandbox mode; a production service sends its visitors to the desk."""
    rt = request.app[RUNTIME]
    settings = rt.settings
    if not settings.sandbox:
        # Nothing of the sandbox is shown: the desk sends a signed-out visitor to its sign-in.
        raise web.HTTPFound(HOME_PATH)
    # The phone page is ours when this process plays Zalo; else it is at the sandbox run apart.
    phone_url = PHONE_PATH if rt.sandbox is not None else settings.zalo_api_base + PHONE_PATH
    return aiohttp_jinja2.render_template(
        "start.html", request, {"phone_url": phone_url, "desk_url": LOGIN_PATH}
    )


def add_routes(app: web.Application) -> None:
    """Serve the root page."""
    app.router.add_get("/", start_page)
