"""The baseline for bench/webhook.py: an aiohttp handler that only parses the JSON and checks the mac."""

from __future__ import annotations

import argparse
import json

from aiohttp import web

from bot.config import SANDBOX_APP_ID, SANDBOX_OA_SECRET_KEY
from bot.zalo.signature import verify_signature


async def handler(request: web.Request) -> web.Response:
    """Parse, verify, answer; nothing stored."""
    raw = await request.read()
    payload = json.loads(raw)
    ok = verify_signature(
        request.headers.get("X-ZEvent-Signature"),
        SANDBOX_APP_ID,
        raw,
        str(payload.get("timestamp", "")),
        SANDBOX_OA_SECRET_KEY,
    )
    return web.json_response(
        {"status": "ok"} if ok else {"error": "bad signature"}, status=200 if ok else 401
    )


def main() -> None:
    """Serve the bare handler on the given port."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = web.Application()
    app.router.add_post("/zalo/webhook", handler)
    web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=lambda *_: None)


if __name__ == "__main__":
    main()
