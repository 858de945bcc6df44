"""The async OA API client: rate-limited, token-refreshing, retrying where Zalo says it may."""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.zalo.errors import (
    OutcomeUnknown,
    TokenInvalid,
    TransientHTTPError,
    UnexpectedResponse,
    ZaloClientError,
    error_for,
)
from bot.zalo.limiter import RateLimiter
from bot.zalo.tokens import TokenManager

log = logging.getLogger(__name__)

Json = dict[str, Any]


@dataclass(frozen=True)
class SentMessage:
    """What Zalo returns for an accepted send: its message id and the recipient it names."""

    message_id: str
    recipient_id: str


class ZaloClient:
    """Calls the OA Open API on one aiohttp session; every call passes the app's rate limiter."""

    def __init__(
        self,
        http: aiohttp.ClientSession,
        *,
        api_base: str,
        tokens: TokenManager,
        limiter: RateLimiter,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        max_attempts: int = 5,
        timeout: float = 15.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
    ) -> None:
        self._http = http
        self._base = api_base.rstrip("/")
        self._tokens = tokens
        self._limiter = limiter
        self._sleep = sleep
        self._max_attempts = max(1, max_attempts)
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap

    # --- 1:1 consultation messages (replies: priority lane by default) ---

    async def send_cs(self, user_id: str, message: Json, *, priority: bool = True) -> SentMessage:
        """Send a raw consultation message object to a user."""
        body = {"recipient": {"user_id": str(user_id)}, "message": message}
        data = await self._call(
            "POST", "/v3.0/oa/message/cs", json_body=body, priority=priority, idempotent=False
        )
        return _sent(data, str(user_id), "user_id")

    async def send_cs_text(
        self, user_id: str, text: str, *, quote_message_id: str | None = None, priority: bool = True
    ) -> SentMessage:
        """Send a text reply (max 2,000 characters), optionally quoting one of the user's messages."""
        message: Json = {"text": text}
        if quote_message_id:
            message["quote_message_id"] = str(quote_message_id)
        return await self.send_cs(user_id, message, priority=priority)

    async def send_cs_image(
        self, user_id: str, url: str, caption: str | None = None, *, priority: bool = True
    ) -> SentMessage:
        """Send an image by public URL (jpg/png ≤ 1 MB) with an optional caption."""
        message: Json = {
            "attachment": {
                "type": "template",
                "payload": {
                    "template_type": "media",
                    "elements": [{"media_type": "image", "url": url}],
                },
            }
        }
        if caption:
            message["text"] = caption
        return await self.send_cs(user_id, message, priority=priority)

    async def send_cs_buttons(
        self, user_id: str, text: str, buttons: list[Json], *, priority: bool = True
    ) -> SentMessage:
        """Send text with buttons (oa.open.url, oa.query.show, oa.query.hide, oa.open.sms, oa.open.phone)."""
        message: Json = {
            "text": text,
            "attachment": {"type": "template", "payload": {"buttons": buttons}},
        }
        return await self.send_cs(user_id, message, priority=priority)

    # --- OA-owned group chats (broadcasts: normal lane by default) ---

    async def send_group(
        self, group_id: str, message: Json, *, priority: bool = False
    ) -> SentMessage:
        """Send a raw message object to an OA-owned group."""
        body = {"recipient": {"group_id": str(group_id)}, "message": message}
        data = await self._call(
            "POST", "/v3.0/oa/group/message", json_body=body, priority=priority, idempotent=False
        )
        return _sent(data, str(group_id), "group_id")

    async def send_group_text(
        self, group_id: str, text: str, *, priority: bool = False
    ) -> SentMessage:
        """Send a text message to an OA-owned group."""
        return await self.send_group(group_id, {"text": text}, priority=priority)

    # --- users ---

    async def user_detail(self, user_id: str, *, priority: bool = False) -> Json:
        """Return a user's profile (display_name, user_is_follower, shared_info, ...)."""
        return _dict(
            await self._get_data("/v3.0/oa/user/detail", {"user_id": str(user_id)}, priority)
        )

    async def list_followers(
        self, offset: int = 0, count: int = 50, *, priority: bool = False, **filters: Any
    ) -> Json:
        """Return one page of users: data{total, count, offset, users}; filters use Zalo's names."""
        query = {"offset": offset, "count": count, **filters}
        return _dict(await self._get_data("/v3.0/oa/user/getlist", query, priority))

    async def user_conversation(
        self, user_id: str, offset: int = 0, count: int = 10, *, priority: bool = False
    ) -> list[Json]:
        """Return recent 1:1 messages with a user, newest first (max 10 per call)."""
        query = {"user_id": str(user_id), "offset": offset, "count": count}
        return _list(await self._get_data("/v2.0/oa/conversation", query, priority))

    # --- groups ---

    async def list_groups(
        self, offset: int = 0, count: int = 50, *, priority: bool = False
    ) -> Json:
        """Return one page of the OA's groups: data{total, groups:[...]}."""
        params = {"offset": str(offset), "count": str(count)}
        path = "/v3.0/oa/group/getgroupsofoa"
        return _dict(await self._call("GET", path, params=params, priority=priority))

    async def group_detail(self, group_id: str, *, priority: bool = False) -> Json:
        """Return group_info, asset_info and group_setting of one group."""
        params = {"group_id": str(group_id)}
        return _dict(
            await self._call("GET", "/v3.0/oa/group/getgroup", params=params, priority=priority)
        )

    async def group_members(
        self, group_id: str, offset: int = 0, count: int = 50, *, priority: bool = False
    ) -> Json:
        """Return one page of a group's members: data{total, members:[...]}."""
        params = {"group_id": str(group_id), "offset": str(offset), "count": str(count)}
        return _dict(
            await self._call("GET", "/v3.0/oa/group/listmember", params=params, priority=priority)
        )

    async def create_group(
        self,
        name: str,
        asset_id: str,
        member_user_ids: list[str],
        description: str | None = None,
        *,
        priority: bool = False,
    ) -> Json:
        """Create an OA-owned group on a GMF asset with 1–99 members; returns group_id and group_link."""
        members = [str(u) for u in member_user_ids]
        body: Json = {"group_name": name, "asset_id": asset_id, "member_user_ids": members}
        if description:
            body["group_description"] = description
        path = "/v3.0/oa/group/creategroupwithoa"
        return _dict(await self._call("POST", path, json_body=body, priority=priority))

    async def group_conversation(
        self, group_id: str, offset: int = 0, count: int = 10, *, priority: bool = False
    ) -> list[Json]:
        """Return recent messages of a group, newest first."""
        params = {"group_id": str(group_id), "offset": str(offset), "count": str(count)}
        return _list(
            await self._call("GET", "/v3.0/oa/group/conversation", params=params, priority=priority)
        )

    # --- plumbing ---

    async def _get_data(self, path: str, query: Json, priority: bool) -> Any:
        # The user family takes all parameters as one JSON-valued `data` query parameter.
        params = {"data": json.dumps(query, ensure_ascii=False, separators=(",", ":"))}
        return await self._call("GET", path, params=params, priority=priority)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json_body: Json | None = None,
        priority: bool,
        idempotent: bool = True,
    ) -> Any:
        """Make one logical call: returns the envelope's `data`, or raises a typed error.

        A call that is not idempotent (a send) is retried only when Zalo certainly did not process
        it: an error code in the envelope, or no connection at all. Otherwise OutcomeUnknown.
        """
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            await self._limiter.acquire(priority)
            token = await self._tokens.access_token()
            try:
                return await self._once(method, path, token, params, json_body)
            except TokenInvalid:
                if refreshed:
                    raise
                refreshed = True
                attempt -= 1  # a token refresh is not a failed attempt
                await self._tokens.refresh(token)
            except TransientHTTPError as exc:
                if not idempotent and exc.request_sent:
                    raise OutcomeUnknown(str(exc), exc.status) from exc
                if attempt >= self._max_attempts:
                    raise
                delay = self._backoff(attempt)
                log.info("%s %s failed (%s); retry %d in %.2fs", method, path, exc, attempt, delay)
                await self._sleep(delay)
            except ZaloClientError as exc:
                if not exc.transient or attempt >= self._max_attempts:
                    raise
                delay = self._backoff(attempt)
                log.info("%s %s failed (%s); retry %d in %.2fs", method, path, exc, attempt, delay)
                await self._sleep(delay)

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self._backoff_cap, self._backoff_base * 2.0 ** (attempt - 1))
        # Equal jitter: never zero, but spread so parallel senders do not retry in lockstep.
        return ceiling / 2 + random.uniform(0, ceiling / 2)

    async def _once(
        self,
        method: str,
        path: str,
        token: str,
        params: dict[str, str] | None,
        json_body: Json | None,
    ) -> Any:
        try:
            async with self._http.request(
                method,
                self._base + path,
                params=params,
                json=json_body,
                headers={"access_token": token},
                timeout=self._timeout,
            ) as response:
                if response.status >= 500:
                    raise TransientHTTPError((await response.text())[:200], response.status)
                try:
                    body = await response.json(content_type=None)
                except ValueError as exc:
                    raise UnexpectedResponse("answer is not JSON", response.status) from exc
                if response.status != 200 and not (isinstance(body, dict) and body.get("error")):
                    raise UnexpectedResponse(str(body)[:200], response.status)
        except aiohttp.ClientConnectorError as exc:
            raise TransientHTTPError(f"{method} {path}: {exc!r}", request_sent=False) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise TransientHTTPError(f"{method} {path}: {exc!r}") from exc
        if not isinstance(body, dict):
            raise UnexpectedResponse("answer is not a JSON object")
        code = int(body.get("error") or 0)
        if code != 0:
            raise error_for(code, str(body.get("message", "")))
        return body.get("data")


def _sent(data: Any, fallback_recipient: str, key: str) -> SentMessage:
    data = data if isinstance(data, dict) else {}
    message_id = data.get("message_id")
    if not message_id:
        raise UnexpectedResponse("send succeeded without data.message_id")
    return SentMessage(
        message_id=str(message_id), recipient_id=str(data.get(key) or fallback_recipient)
    )


def _dict(data: Any) -> Json:
    return data if isinstance(data, dict) else {}


def _list(data: Any) -> list[Json]:
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []
