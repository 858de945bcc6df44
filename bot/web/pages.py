"""Server-rendered pages: one Jinja environment for the web, and the plain message page."""

from __future__ import annotations

from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

STATIC_PATH = "/static/"  # the one stylesheet; no page loads anything from elsewhere


def setup_pages(app: web.Application, templates_dir: Path) -> None:
    """Install aiohttp-jinja2 on the app, reading templates/web/ and templates/admin/."""
    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader([templates_dir / "web", templates_dir / "admin"]),
        autoescape=True,  # every page shows what people typed
        undefined=jinja2.StrictUndefined,
    )


def message_page(
    request: web.Request,
    title: str,
    paragraphs: list[str],
    *,
    status: int = 200,
    heading: str | None = None,
    command: str | None = None,
) -> web.Response:
    """A short page of plain paragraphs (a result, a refusal), with an optional command to copy."""
    return aiohttp_jinja2.render_template(
        "message.html",
        request,
        {"title": title, "heading": heading, "paragraphs": paragraphs, "command": command},
        status=status,
    )
