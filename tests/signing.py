"""Signing webhook bodies the way Zalo does, for tests and benchmarks."""

from __future__ import annotations

import json
from typing import Any

from bot.config import SANDBOX_APP_ID, SANDBOX_OA_SECRET_KEY
from bot.zalo.signature import compute_mac


def signed(
    payload: dict[str, Any], *, app_id: str = SANDBOX_APP_ID, secret: str = SANDBOX_OA_SECRET_KEY
) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers of a genuine Zalo delivery of `payload`."""
    body = json.dumps(payload, ensure_ascii=False).encode()
    mac = compute_mac(app_id, body, str(payload.get("timestamp", "")), secret)
    return body, {"X-ZEvent-Signature": f"mac={mac}", "Content-Type": "application/json"}


def text_event(
    user_id: str, msg_id: str, text: str, timestamp: str = "1763800000000"
) -> dict[str, Any]:
    """A user_send_text event as Zalo sends it."""
    return {
        "app_id": SANDBOX_APP_ID,
        "user_id_by_app": f"app-{user_id}",
        "event_name": "user_send_text",
        "timestamp": timestamp,
        "sender": {"id": user_id},
        "recipient": {"id": "2000000000000000002"},
        "message": {"msg_id": msg_id, "text": text},
    }
