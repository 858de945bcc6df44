"""POST /zalo/webhook: verify over the raw bytes, store durably, answer 200, work in the background."""

from __future__ import annotations

import json
import logging

from aiohttp import web

from bot.inbound.events import dedupe_key, event_timestamp
from bot.keys import INBOX, SETTINGS
from bot.zalo.signature import verify_signature

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
_OK = b'{"status": "ok"}'
_DUPLICATE = b'{"status": "duplicate"}'


def _reject(status: int, reason: str) -> web.Response:
    log.warning("webhook rejected: %s %s", status, reason)
    return web.json_response({"error": reason}, status=status)


async def zalo_webhook(request: web.Request) -> web.Response:
    """Accept one Zalo event: 200 once it is durable (or already stored), 4xx for bad input."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _reject(413, "body over 1 MB")
    raw = await request.content.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        return _reject(413, "body over 1 MB")
    signature = request.headers.get("X-ZEvent-Signature")
    if not raw.strip() or (raw.strip() in (b"{}", b"null") and not signature):
        # The Zalo console checks the URL with an empty, unsigned POST; nothing to store.
        return web.json_response({"status": "ok"})
    if request.content_type != "application/json":
        return _reject(415, "content type must be application/json")
    try:
        payload = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _reject(400, "body is not UTF-8 JSON")
    if not isinstance(payload, dict):
        return _reject(400, "body is not a JSON object")
    settings = request.app[SETTINGS]
    if not verify_signature(
        signature, settings.zalo_app_id, raw, event_timestamp(payload), settings.zalo_oa_secret_key
    ):
        return _reject(401, "bad signature")
    event_name = payload.get("event_name")
    if not isinstance(event_name, str) or not event_name:
        return _reject(400, "event_name missing")
    try:
        fresh = await request.app[INBOX].accept(
            dedupe_key(payload), event_name, raw.decode("utf-8")
        )
    except Exception:
        # Not stored: say so, so that Zalo delivers it again rather than thinking we have it.
        log.exception("could not store event %s", event_name)
        return web.json_response({"error": "try again"}, status=503)
    return web.Response(body=_OK if fresh else _DUPLICATE, content_type="application/json")
