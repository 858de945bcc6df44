"""Typed keys for the long-lived objects kept on the aiohttp application."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bot.config import Settings
    from bot.inbound.inbox import InboxWriter
    from bot.runtime import Runtime

SETTINGS: web.AppKey[Settings] = web.AppKey("settings")
INBOX: web.AppKey[InboxWriter] = web.AppKey("inbox")
RUNTIME: web.AppKey[Runtime] = web.AppKey("runtime")
