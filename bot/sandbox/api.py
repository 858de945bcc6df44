"""HTTP face of the sandbox: Zalo's API and OAuth routes, a control API, and the phone page."""

from __future__ import annotations

import asyncio
import html
import json
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import Any

from aiohttp import web
from yarl import URL

from bot.clock import SystemClock
from bot.config import SANDBOX_APP_ID, SANDBOX_APP_SECRET, SANDBOX_OA_ID, SANDBOX_OA_SECRET_KEY
from bot.sandbox.platform import ApiError, OAuthFailure, SandboxPlatform

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
Handler = Callable[[web.Request], Awaitable[Any]]

_dumps = partial(json.dumps, ensure_ascii=False)

_FAULT_MESSAGES = {
    -32: "Your application reached limit call api",
    -200: "Send message failed",
    -216: "Access token is invalid",
    -220: "Access token is expired or removed",
}


def _envelope(code: int, message: str, data: Any = None) -> web.Response:
    body: dict[str, Any] = {"error": code, "message": message}
    if code == 0:
        body["data"] = data
    return web.json_response(body, dumps=_dumps)


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=_dumps)


def _data_query(request: web.Request) -> dict[str, Any]:
    """The user family's `data=<JSON>` query parameter."""
    try:
        value = json.loads(request.query.get("data", ""))
    except ValueError:
        raise ApiError(-201, "data is invalid!") from None
    if not isinstance(value, dict):
        raise ApiError(-201, "data is invalid!")
    return value


def _query_int(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(-201, f"{name} is invalid!") from None


async def _json_body(request: web.Request) -> Any:
    try:
        return await request.json(loads=json.loads)
    except ValueError:
        raise ApiError(-201, "body is invalid!") from None


class _Routes:
    """Request handlers bound to one platform."""

    def __init__(self, platform: SandboxPlatform) -> None:
        self.p = platform

    # --- fault injection and the envelope ---

    async def _fault(self, request: web.Request, kind: str | None) -> web.StreamResponse | None:
        if kind is None or kind == "drop_answer":
            return None
        log.info("sandbox: injected %s on %s", kind, request.path)
        if kind == "5xx":
            return web.Response(
                status=502,
                text="<html><body>502 Bad Gateway</body></html>",
                content_type="text/html",
            )
        if kind == "timeout":
            # Longer than any sane client timeout; the call is never processed.
            await asyncio.sleep(self.p.timeout_fault_seconds)
            return web.Response(status=504, text="Gateway Timeout")
        if kind == "disconnect":
            if request.transport is not None:
                request.transport.close()
            return web.Response(status=500)
        code = int(kind)
        return _envelope(code, _FAULT_MESSAGES.get(code, "Sandbox injected error"))

    def zalo(self, handler: Handler, *, auth: bool = True) -> Handler:
        """Wrap an Open API handler: faults, access_token check, rate limit, Zalo envelope."""

        async def wrapped(request: web.Request) -> web.StreamResponse:
            kind = self.p.take_fault(request.path)
            faulted = await self._fault(request, kind)
            if faulted is not None:
                return faulted
            remain = self.p.count_call()
            try:
                if auth:
                    self.p.check_access_token(request.headers.get("access_token"))
                if remain < 0:
                    raise ApiError(-32, _FAULT_MESSAGES[-32])  # noqa: TRY301 - answered like the rest
                data = await handler(request)
            except ApiError as exc:
                response = _envelope(exc.code, exc.message)
            else:
                response = _envelope(0, "Success", data)
            if kind == "drop_answer" and request.transport is not None:
                # Zalo did the work; the answer is lost on the way back (a crash, a cut line).
                request.transport.close()
            response.headers["X-RateLimit-Limit"] = str(self.p.rate_limit_per_minute)
            response.headers["X-RateLimit-Remain"] = str(max(remain, 0))
            return response

        return wrapped

    # --- Open API ---

    async def send_cs(self, request: web.Request) -> Any:
        return self.p.api_send_cs(await _json_body(request))

    async def send_group(self, request: web.Request) -> Any:
        return self.p.api_send_group(await _json_body(request))

    async def v2_message(self, request: web.Request) -> Any:
        return self.p.api_v2_message(await _json_body(request))

    async def user_detail(self, request: web.Request) -> Any:
        return self.p.api_user_detail(_data_query(request))

    async def user_list(self, request: web.Request) -> Any:
        return self.p.api_user_list(_data_query(request))

    async def conversation(self, request: web.Request) -> Any:
        return self.p.api_conversation(_data_query(request))

    async def groups(self, request: web.Request) -> Any:
        return self.p.api_groups(_query_int(request, "offset", 0), _query_int(request, "count", 50))

    async def group_detail(self, request: web.Request) -> Any:
        return self.p.api_group_detail(request.query.get("group_id", ""))

    async def group_members(self, request: web.Request) -> Any:
        return self.p.api_group_members(
            request.query.get("group_id", ""),
            _query_int(request, "offset", 0),
            _query_int(request, "count", 50),
        )

    async def create_group(self, request: web.Request) -> Any:
        return self.p.api_create_group(await _json_body(request))

    async def group_conversation(self, request: web.Request) -> Any:
        return self.p.api_group_conversation(
            request.query.get("group_id", ""),
            _query_int(request, "offset", 0),
            _query_int(request, "count", 10),
        )

    async def getoa(self, request: web.Request) -> Any:
        return self.p.api_getoa()

    async def quota(self, request: web.Request) -> Any:
        return self.p.api_quota(await _json_body(request))

    async def group_quota(self, request: web.Request) -> Any:
        return self.p.api_group_quota(await _json_body(request))

    # --- OAuth v4 ---

    async def permission_page(self, request: web.Request) -> web.Response:
        """The consent page an OA admin sees; "Cho phép" sends them back with a code."""
        q = request.query
        if q.get("app_id") != self.p.app_id:
            return _oauth_page(
                "Không cấp được quyền", "Mã ứng dụng không hợp lệ (-14002 Invalid appId).", 400
            )
        redirect_uri = q.get("redirect_uri", "")
        if not redirect_uri.startswith(("http://", "https://")):
            return _oauth_page(
                "Không cấp được quyền", "Địa chỉ chuyển hướng không hợp lệ (-14003).", 400
            )
        hidden = "".join(
            f"<input type='hidden' name='{name}' value='{html.escape(q.get(name, ''), quote=True)}'>"
            for name in ("app_id", "redirect_uri", "code_challenge", "state")
        )
        body = (
            f"<p>Ứng dụng <b>{html.escape(self.p.app_id)}</b> xin quyền quản lý Official Account "
            f"<b>{html.escape(self.p.oa_name)}</b>: gửi tin tư vấn, quản lý người quan tâm và nhóm chat.</p>"
            f"<form method='post' action='/v4/oa/permission'>{hidden}"
            "<button id='allow-button' data-testid='allow-button' type='submit' "
            "style='font-size:1.1rem;padding:.6rem 1.4rem;background:#0068ff;color:#fff;border:0;"
            "border-radius:.4rem'>Cho phép</button></form>"
            "<p style='color:#666;font-size:.9rem'>"
            "Đây là trang thử nghiệm (sandbox), không phải Zalo thật.</p>"
        )
        return _oauth_page("Cấp quyền cho ứng dụng", body, raw=True)

    async def permission_allow(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("app_id") != self.p.app_id:
            return _oauth_page("Không cấp được quyền", "Mã ứng dụng không hợp lệ.", 400)
        redirect_uri = str(form.get("redirect_uri", ""))
        code = self.p.new_auth_code(redirect_uri, str(form.get("code_challenge", "")))
        params = {"code": code, "oa_id": self.p.oa_id}
        if form.get("state"):
            params["state"] = str(form["state"])
        raise web.HTTPFound(str(URL(redirect_uri).update_query(params)))

    async def access_token(self, request: web.Request) -> web.StreamResponse:
        faulted = await self._fault(request, self.p.take_fault(request.path))
        if faulted is not None:
            return faulted
        form = await request.post()
        try:
            body = self.p.token_endpoint(
                request.headers.get("secret_key"), {k: str(v) for k, v in form.items()}
            )
        except OAuthFailure as exc:
            return _json(exc.body())
        return _json(body)

    # --- control API ---

    async def c_users(self, request: web.Request) -> web.Response:
        return _json({"users": self.p.users_json()})

    async def c_groups(self, request: web.Request) -> web.Response:
        return _json({"groups": self.p.groups_json()})

    async def c_user_chat(self, request: web.Request) -> web.Response:
        user_id = request.match_info["user_id"]
        user = self.p.users.get(user_id)
        if user is None:
            return _json({"error": f"unknown user {user_id}"}, 404)
        return _json(
            {
                "user_id": user_id,
                "name": user.name,
                "follower": user.follower,
                "messages": self.p.chat_json(user_id),
            }
        )

    async def c_group_chat(self, request: web.Request) -> web.Response:
        group_id = request.match_info["group_id"]
        group = self.p.groups.get(group_id)
        if group is None:
            return _json({"error": f"unknown group {group_id}"}, 404)
        return _json(
            {"group_id": group_id, "name": group.name, "messages": self.p.group_chat_json(group_id)}
        )

    async def c_user_send(self, request: web.Request) -> web.Response:
        user_id = request.match_info["user_id"]
        body = await _control_body(request)
        kind = body.get("kind", "text")
        if kind == "text":
            text = str(body.get("text", "")).strip()
            if not text:
                return _json({"error": "text is empty"}, 400)
            return await _emission(
                self.p.user_send_text(user_id, text, body.get("quote_msg_id") or None)
            )
        if kind == "image":
            image = {k: str(body[k]) for k in ("url", "caption") if k in body}
            return await _emission(self.p.user_send_image(user_id, **image))
        if kind == "sticker":
            return await _emission(
                self.p.user_send_sticker(
                    user_id, **({"sticker_id": body["sticker_id"]} if "sticker_id" in body else {})
                )
            )
        if kind == "audio":
            return await _emission(
                self.p.user_send_audio(user_id, **({"url": body["url"]} if "url" in body else {}))
            )
        if kind == "file":
            file = {k: str(body[k]) for k in ("url", "name", "size") if k in body}
            return await _emission(self.p.user_send_file(user_id, **file))
        return _json({"error": f"unknown kind {kind}"}, 400)

    async def c_follow(self, request: web.Request) -> web.Response:
        return await _emission(self.p.follow(request.match_info["user_id"]))

    async def c_unfollow(self, request: web.Request) -> web.Response:
        return await _emission(self.p.unfollow(request.match_info["user_id"]))

    async def c_seen(self, request: web.Request) -> web.Response:
        body = await _control_body(request)
        msg_ids = body.get("msg_ids")
        return await _emission(self.p.mark_seen(request.match_info["user_id"], msg_ids))

    async def c_oa_manager(self, request: web.Request) -> web.Response:
        body = await _control_body(request)
        text = str(body.get("text", "")).strip()
        if not text:
            return _json({"error": "text is empty"}, 400)
        return await _emission(self.p.oa_manager_send_text(request.match_info["user_id"], text))

    async def c_group_send(self, request: web.Request) -> web.Response:
        body = await _control_body(request)
        text = str(body.get("text", "")).strip()
        if not text or not body.get("user_id"):
            return _json({"error": "user_id and text are required"}, 400)
        return await _emission(
            self.p.user_send_group_text(
                request.match_info["group_id"],
                str(body["user_id"]),
                text,
                body.get("quote_msg_id") or None,
            )
        )

    async def c_group_membership(self, request: web.Request) -> web.Response:
        """Make a user join or leave a group: {"user_id", "action": "join"|"leave", "event_name"?}."""
        body = await _control_body(request)
        action, user_id = body.get("action"), body.get("user_id")
        if action not in ("join", "leave") or not user_id:
            return _json({"error": "user_id and action (join or leave) are required"}, 400)
        options: dict[str, str] = {}
        if body.get("event_name"):
            options["event_name"] = str(body["event_name"])
        if body.get("id_key"):
            options["id_key"] = str(body["id_key"])
        move = self.p.user_join_group if action == "join" else self.p.user_leave_group
        return await _emission(move(request.match_info["group_id"], str(user_id), **options))

    async def c_faults(self, request: web.Request) -> web.Response:
        if request.method == "POST":
            body = await _control_body(request)
            try:
                self.p.inject(
                    str(body["path_prefix"]), str(body["kind"]), int(body.get("count", 1))
                )
            except (KeyError, ValueError) as exc:
                return _json({"error": f"bad fault: {exc}"}, 400)
        elif request.method == "DELETE":
            self.p.faults.clear()
        return _json({"faults": [vars(f) for f in self.p.faults]})

    async def c_expire_tokens(self, request: web.Request) -> web.Response:
        self.p.expire_access_tokens()
        return _json({"expired": True})

    async def c_initial_tokens(self, request: web.Request) -> web.Response:
        pair = self.p.issue_initial_tokens()
        return _json(
            {
                "access_token": pair.access_token,
                "refresh_token": pair.refresh_token,
                "expires_in": "90000",
            }
        )

    async def c_webhooks(self, request: web.Request) -> web.Response:
        return _json({"deliveries": [d.to_json() for d in self.p.deliveries]})

    async def c_redeliver(self, request: web.Request) -> web.Response:
        event_id = request.match_info["event_id"]
        try:
            status = await self.p.redeliver(event_id)
        except KeyError:
            return _json({"error": f"unknown event {event_id}"}, 404)
        return _json({"event_id": event_id, "status": status})

    async def phone_page(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC_DIR / "index.html")


async def _control_body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        body = await request.json()
    except ValueError:
        raise web.HTTPBadRequest(text="body is not JSON") from None
    return body if isinstance(body, dict) else {}


async def _emission(action: Awaitable[Any]) -> web.Response:
    try:
        emitted = await action
    except KeyError as exc:
        return _json({"error": str(exc)}, 404)
    except (ValueError, ApiError) as exc:
        return _json({"error": str(exc)}, 400)
    return _json({"event": emitted.event, "status": emitted.status, "event_id": emitted.event_id})


def _oauth_page(title: str, body: str, status: int = 200, *, raw: bool = False) -> web.Response:
    content = body if raw else f"<p>{html.escape(body)}</p>"
    text = (
        "<!doctype html><html lang='vi'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title></head>"
        "<body style='font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem'>"
        f"<h1 style='font-size:1.4rem'>{html.escape(title)}</h1>{content}</body></html>"
    )
    return web.Response(text=text, content_type="text/html", status=status)


def setup_sandbox(app: web.Application, platform: SandboxPlatform) -> None:
    """Add Zalo's API and OAuth routes (at the root), the control API and the phone page to `app`."""
    r = _Routes(platform)
    z = r.zalo
    add = app.router
    add.add_post("/v3.0/oa/message/cs", z(r.send_cs))
    add.add_post("/v3.0/oa/group/message", z(r.send_group))
    add.add_get("/v3.0/oa/user/detail", z(r.user_detail))
    add.add_get("/v3.0/oa/user/getlist", z(r.user_list))
    add.add_get("/v3.0/oa/group/getgroupsofoa", z(r.groups))
    add.add_get("/v3.0/oa/group/getgroup", z(r.group_detail))
    add.add_get("/v3.0/oa/group/listmember", z(r.group_members))
    add.add_post("/v3.0/oa/group/creategroupwithoa", z(r.create_group))
    add.add_get("/v3.0/oa/group/conversation", z(r.group_conversation))
    add.add_get("/v2.0/oa/conversation", z(r.conversation))
    add.add_get("/v2.0/oa/getoa", z(r.getoa))
    add.add_post("/v3.0/oa/quota/message", z(r.quota))
    add.add_post("/v3.0/oa/quota/group", z(r.group_quota))
    add.add_post("/v2.0/oa/message", z(r.v2_message))
    add.add_get("/v4/oa/permission", r.permission_page)
    add.add_post("/v4/oa/permission", r.permission_allow)
    add.add_post("/v4/oa/access_token", r.access_token)

    c = "/sandbox/api"
    add.add_get(f"{c}/users", r.c_users)
    add.add_get(f"{c}/groups", r.c_groups)
    add.add_get(f"{c}/users/{{user_id}}/chat", r.c_user_chat)
    add.add_post(f"{c}/users/{{user_id}}/messages", r.c_user_send)
    add.add_post(f"{c}/users/{{user_id}}/follow", r.c_follow)
    add.add_post(f"{c}/users/{{user_id}}/unfollow", r.c_unfollow)
    add.add_post(f"{c}/users/{{user_id}}/seen", r.c_seen)
    add.add_post(f"{c}/users/{{user_id}}/oa-manager", r.c_oa_manager)
    add.add_get(f"{c}/groups/{{group_id}}/chat", r.c_group_chat)
    add.add_post(f"{c}/groups/{{group_id}}/messages", r.c_group_send)
    add.add_post(f"{c}/groups/{{group_id}}/membership", r.c_group_membership)
    add.add_route("*", f"{c}/faults", r.c_faults)
    add.add_post(f"{c}/tokens/expire", r.c_expire_tokens)
    add.add_get(f"{c}/tokens/initial", r.c_initial_tokens)
    add.add_get(f"{c}/webhooks", r.c_webhooks)
    add.add_post(f"{c}/webhooks/{{event_id}}/redeliver", r.c_redeliver)

    add.add_get("/sandbox/", r.phone_page)
    add.add_get("/sandbox", _redirect_to_phone)
    add.add_static("/sandbox/static/", STATIC_DIR)


async def _redirect_to_phone(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/sandbox/")


def create_sandbox_app(platform: SandboxPlatform) -> web.Application:
    """A standalone aiohttp app serving only the sandbox (the platform closes with it)."""
    app = web.Application()
    setup_sandbox(app, platform)
    app.router.add_get("/", _redirect_to_phone)

    async def close_platform(_: web.Application) -> None:
        await platform.close()

    app.on_cleanup.append(close_platform)
    return app


async def serve_sandbox(host: str, port: int, webhook_url: str) -> None:
    """Run the sandbox with the demo commune on host:port until cancelled."""
    platform = SandboxPlatform(
        app_id=SANDBOX_APP_ID,
        app_secret=SANDBOX_APP_SECRET,
        oa_secret_key=SANDBOX_OA_SECRET_KEY,
        oa_id=SANDBOX_OA_ID,
        webhook_url=webhook_url,
        clock=SystemClock(),
    )
    platform.seed_demo()
    runner = web.AppRunner(create_sandbox_app(platform))
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        log.info(
            "Zalo sandbox on http://%s:%d/sandbox/ delivering events to %s", host, port, webhook_url
        )
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
