"""The sandbox Zalo platform: users, OA groups, chats, tokens and webhook delivery, in memory.

It follows the shared Zalo platform notes (zalo-oa.md): the same envelopes, ids as strings,
13-digit millisecond timestamps, the 7-day consultation window, 25-hour access tokens and
single-use refresh tokens.
Where the doc leaves a shape open (conversation history items, OAuth error codes other than
-14002/-14003), the choice made here is marked in a comment.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import aiohttp

from bot.clock import VN_TZ, Clock, epoch_ms
from bot.directory.roles import role_label
from bot.sandbox.demo import (
    COMMUNE_GROUP_ID,
    COMMUNE_NAME,
    HAMLET_WORD,
    HAMLETS,
    PEOPLE,
    group_link,
)
from bot.zalo.tokens import TokenPair

log = logging.getLogger(__name__)

Json = dict[str, Any]

ACCESS_TOKEN_LIFETIME = timedelta(hours=25)
REFRESH_TOKEN_LIFETIME = timedelta(days=90)
AUTH_CODE_LIFETIME = timedelta(minutes=10)
CS_WINDOW = timedelta(days=7)
MAX_TEXT = 2000
GMF_PRODUCTS = {
    "gmf10": 10,
    "gmf50": 50,
    "gmf100": 100,
    "gmf1000": 1000,
}  # asset tier -> max members
GMF_QUOTA_TYPES = ("sub_quota", "purchase_quota", "reward_quota")
FAULT_KINDS = (
    "5xx",
    "timeout",
    "disconnect",
    "drop_answer",
)  # plus any Zalo error code such as "-32" or "-216"


class ApiError(Exception):
    """A Zalo error answer: HTTP 200 with a non-zero `error`."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


class OAuthFailure(Exception):
    """An OAuth v4 error answer (the -14xxx family)."""

    def __init__(self, code: int, name: str, reason: str) -> None:
        super().__init__(f"{code} {name}")
        self.code = code
        self.name = name
        self.reason = reason

    def body(self) -> Json:
        """The JSON body Zalo's OAuth endpoints answer with."""
        return {
            "error": self.code,
            "error_name": self.name,
            "error_reason": self.reason,
            "ref_doc": "https://developers.zalo.me/docs/official-account/phu-luc/cac-loai-ma-su-dung-trong-oauth",
            "error_description": self.reason,
        }


@dataclass
class SandboxUser:
    """A Zalo user as the OA sees them."""

    user_id: str
    name: str
    follower: bool = True
    last_interaction: datetime | None = None
    hamlet: str | None = None
    user_id_by_app: str = ""
    # What the person does in the demo commune (a StaffRole value); Zalo itself knows nothing of it,
    # the phone page shows it so a tester knows whom they are acting as.
    role: str | None = None


@dataclass
class ChatMessage:
    """One message in a 1:1 or group conversation."""

    msg_id: str
    sender_id: str  # a user id, or the OA id
    from_oa: bool
    kind: str  # text, image, sticker, audio, file, link
    text: str
    time: datetime
    sent_by: str  # "user", "api" (through the Open API) or "oa_manager" (a person in OA Manager)
    quote_msg_id: str | None = None
    attachments: list[Json] = field(default_factory=list)
    received: bool = False
    seen: bool = False


@dataclass
class SandboxGroup:
    """An OA-owned group chat (GMF)."""

    group_id: str
    name: str
    members: list[str]
    description: str = ""
    status: str = "enabled"  # "enabled" or "disabled" (asset lapsed: sends get -237)
    oa_in_group: bool = True  # False: sends get -403
    asset_id: str = ""
    asset_type: str = "gmf100"
    group_link: str = ""
    messages: list[ChatMessage] = field(default_factory=list)


@dataclass
class GroupAsset:
    """A GMF quota asset of the OA: one group may be created on it while it is available."""

    asset_id: str
    product_type: str  # gmf10 / gmf50 / gmf100 / gmf1000
    quota_type: str  # sub_quota / purchase_quota / reward_quota
    valid_through: datetime
    auto_renew: bool = True
    used_id: str = ""  # the group created on it; empty while available

    @property
    def status(self) -> str:
        """Either "available" or "used", as the quota API says."""
        return "used" if self.used_id else "available"


@dataclass
class Delivery:
    """One POST of an event to the webhook URL, and how it went."""

    event_id: str
    event_name: str
    body: bytes
    signature: str
    num_retry: int
    status: int | None
    error: str | None
    at: datetime

    def to_json(self) -> Json:
        """The delivery as the control API shows it."""
        return {
            "event_id": self.event_id,
            "event_name": self.event_name,
            "num_retry": self.num_retry,
            "status": self.status,
            "error": self.error,
            "at": self.at.isoformat(),
            "body": self.body.decode("utf-8"),
        }


@dataclass
class Emission:
    """An event the platform sent: the event, the webhook's HTTP status (None if unreachable), its id."""

    event: Json
    status: int | None
    event_id: str

    def __iter__(self) -> Iterator[Any]:
        # Unpacks as (event, status), the pair callers usually want.
        return iter((self.event, self.status))


@dataclass
class _AccessToken:
    issued_at: datetime
    revoked: bool = False


@dataclass
class _RefreshToken:
    access_token: str
    issued_at: datetime
    used: bool = False


@dataclass
class _AuthCode:
    redirect_uri: str
    code_challenge: str
    issued_at: datetime
    used: bool = False


@dataclass
class Fault:
    """A failure to answer the next `remaining` calls under `path_prefix` with."""

    path_prefix: str
    kind: str
    remaining: int


class SandboxPlatform:
    """In-memory Zalo: what the Open API and the OAuth endpoints read and change, and the webhook sender."""

    def __init__(
        self,
        *,
        app_id: str,
        app_secret: str,
        oa_secret_key: str,
        oa_id: str,
        webhook_url: str,
        clock: Clock,
        http: aiohttp.ClientSession | None = None,
        oa_name: str = f"UBND {COMMUNE_NAME}",
        event_delay: float = 0.05,
    ) -> None:
        self.app_id = app_id
        self.app_secret = app_secret
        self.oa_secret_key = oa_secret_key
        self.oa_id = oa_id
        self.oa_name = oa_name
        self.webhook_url = webhook_url
        self.clock = clock
        self.event_delay = event_delay  # receipts and echoes come a moment after the API answer
        self.timeout_fault_seconds = 30.0
        # Zalo does not document its history as immediate: a message may show there only this late.
        self.history_lag = timedelta(0)
        self.rate_limit_per_minute = 4000
        self.webhook_timeout = 10.0
        self.users: dict[str, SandboxUser] = {}
        self.groups: dict[str, SandboxGroup] = {}
        self.chats: dict[str, list[ChatMessage]] = {}
        self.deliveries: list[Delivery] = []
        self.faults: list[Fault] = []
        self._events: dict[str, tuple[str, bytes, str]] = {}
        self._access: dict[str, _AccessToken] = {}
        self._refresh: dict[str, _RefreshToken] = {}
        self._codes: dict[str, _AuthCode] = {}
        self._used_assets: set[str] = set()
        self.group_assets: dict[str, GroupAsset] = {}
        self._http = http
        self._own_http = http is None
        self._tasks: set[asyncio.Task[None]] = set()
        self._event_seq = 0
        self._window_start = time.monotonic()
        self._window_calls = 0

    # --- demo data and setup ---

    def seed_demo(self) -> None:
        """Load the demo commune: its people as Zalo users and its OA-owned groups with members."""
        now = self.clock.now()
        for person in PEOPLE:
            # Followers talked to the OA yesterday, so the 7-day window is open; others never did.
            self.add_user(
                person.zalo_user_id,
                person.name,
                follower=person.follower,
                last_interaction=now - timedelta(days=1) if person.follower else None,
                hamlet=person.hamlet,
                role=person.role,
            )
        staff = [p.zalo_user_id for p in PEOPLE if p.role is not None]
        self.add_group(COMMUNE_GROUP_ID, f"{COMMUNE_NAME} - Trưởng ấp", staff, asset_type="gmf50")
        for hamlet, _language, group_id in HAMLETS:
            members = [p.zalo_user_id for p in PEOPLE if p.hamlet == hamlet]
            self.add_group(group_id, f"{hamlet} - {COMMUNE_NAME}", members, asset_type="gmf1000")
        # Spare assets, so a new hamlet (or a replacement commune group) can get a group.
        self.add_group_asset("gmf1000", asset_id="asset-gmf1000-spare-1")
        self.add_group_asset("gmf100", asset_id="asset-gmf100-spare-1")

    def add_group_asset(
        self,
        product_type: str,
        *,
        asset_id: str | None = None,
        quota_type: str = "purchase_quota",
        valid_days: int = 365,
        used_id: str = "",
    ) -> GroupAsset:
        """Give the OA a GMF asset (a bought group package) of one tier."""
        if product_type not in GMF_PRODUCTS:
            raise ValueError(f"unknown GMF product {product_type!r}")
        asset = GroupAsset(
            asset_id or f"asset-{product_type}-{secrets.token_hex(4)}",
            product_type,
            quota_type,
            self.clock.now() + timedelta(days=valid_days),
            used_id=used_id,
        )
        self.group_assets[asset.asset_id] = asset
        return asset

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        follower: bool = True,
        last_interaction: datetime | None = None,
        hamlet: str | None = None,
        role: str | None = None,
    ) -> SandboxUser:
        """Register a Zalo user (ids are strings)."""
        by_app = str(int(hashlib.sha256(f"{self.app_id}:{user_id}".encode()).hexdigest()[:15], 16))
        user = SandboxUser(str(user_id), name, follower, last_interaction, hamlet, by_app, role)
        self.users[user.user_id] = user
        self.chats.setdefault(user.user_id, [])
        return user

    def add_group(
        self,
        group_id: str,
        name: str,
        members: list[str],
        *,
        description: str = "",
        asset_id: str | None = None,
        asset_type: str = "gmf100",
    ) -> SandboxGroup:
        """Register an OA-owned group with its members."""
        asset = asset_id or f"asset-{group_id}"
        self._used_assets.add(asset)
        if asset in self.group_assets:
            self.group_assets[asset].used_id = str(group_id)
            asset_type = self.group_assets[asset].product_type
        else:
            self.add_group_asset(asset_type, asset_id=asset, used_id=str(group_id))
        group = SandboxGroup(
            group_id=str(group_id),
            name=name,
            members=[str(m) for m in members],
            description=description,
            asset_id=asset,
            asset_type=asset_type,
            group_link=group_link(str(group_id)),
        )
        self.groups[group.group_id] = group
        return group

    def set_last_interaction(self, user_id: str, when: datetime | None) -> None:
        """Move a user's last interaction (e.g. eight days back to close the CS window)."""
        self._user(user_id).last_interaction = when

    # --- tokens and OAuth ---

    def issue_initial_tokens(self) -> TokenPair:
        """Issue a first pair, like the API Explorer shortcut in the Zalo console."""
        access, refresh = self._issue_pair()
        return TokenPair(access, refresh, self.clock.now() + ACCESS_TOKEN_LIFETIME)

    def expire_access_tokens(self) -> None:
        """Age every issued access token past its 25 hours (refresh tokens stay usable)."""
        past = self.clock.now() - ACCESS_TOKEN_LIFETIME - timedelta(seconds=1)
        for token in self._access.values():
            token.issued_at = past

    def revoke_refresh_tokens(self) -> None:
        """Make every refresh token unusable (as after three months unused); access tokens keep working."""
        for token in self._refresh.values():
            token.used = True

    def check_access_token(self, token: str | None) -> None:
        """Raise the error Zalo gives for a missing, unknown, revoked (-216) or expired (-220) token."""
        record = self._access.get(token or "")
        if record is None or record.revoked:
            raise ApiError(-216, "Access token is invalid")
        if self.clock.now() >= record.issued_at + ACCESS_TOKEN_LIFETIME:
            raise ApiError(-220, "Access token is expired or removed")

    def refresh_token_alive(self, refresh_token: str) -> bool:
        """Whether a refresh token would still be accepted."""
        record = self._refresh.get(refresh_token)
        return record is not None and not record.used

    def new_auth_code(self, redirect_uri: str, code_challenge: str) -> str:
        """Issue a single-use authorization code, valid 10 minutes, bound to a PKCE challenge."""
        code = secrets.token_urlsafe(32)
        self._codes[code] = _AuthCode(redirect_uri, code_challenge, self.clock.now())
        return code

    def token_endpoint(self, secret_key: str | None, form: dict[str, str]) -> Json:
        """POST /v4/oa/access_token: code exchange or refresh; raises OAuthFailure."""
        # Codes other than -14002/-14003 are the sandbox's own picks: Zalo's are not documented.
        if form.get("app_id") != self.app_id:
            raise OAuthFailure(-14002, "Invalid appId", "app_id is not an active app")
        if not secret_key or not secrets.compare_digest(
            secret_key.encode(), self.app_secret.encode()
        ):
            raise OAuthFailure(
                -14018, "Invalid secret key", "secret_key header does not match the app"
            )
        grant = form.get("grant_type")
        now = self.clock.now()
        if grant == "authorization_code":
            code = self._codes.get(form.get("code", ""))
            if code is None or code.used or now > code.issued_at + AUTH_CODE_LIFETIME:
                raise OAuthFailure(
                    -14005, "Invalid code", "authorization code is invalid or expired"
                )
            if code.code_challenge:
                verifier = form.get("code_verifier", "")
                digest = hashlib.sha256(verifier.encode()).digest()
                challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
                if not secrets.compare_digest(challenge, code.code_challenge):
                    raise OAuthFailure(
                        -14010, "Invalid code verifier", "code_verifier does not match"
                    )
            code.used = True
        elif grant == "refresh_token":
            record = self._refresh.get(form.get("refresh_token", ""))
            if record is None or record.used or now > record.issued_at + REFRESH_TOKEN_LIFETIME:
                raise OAuthFailure(
                    -14014, "Invalid refresh token", "refresh token is invalid or used"
                )
            # Single use: the refresh token dies, and so does the access token issued with it.
            record.used = True
            old = self._access.get(record.access_token)
            if old is not None:
                old.revoked = True
        else:
            raise OAuthFailure(-14001, "Invalid parameter", "grant_type is missing or unknown")
        access, refresh = self._issue_pair()
        return {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": str(int(ACCESS_TOKEN_LIFETIME.total_seconds())),
        }

    def _issue_pair(self) -> tuple[str, str]:
        now = self.clock.now()
        access, refresh = secrets.token_urlsafe(48), secrets.token_urlsafe(48)
        self._access[access] = _AccessToken(now)
        self._refresh[refresh] = _RefreshToken(access, now)
        return access, refresh

    # --- faults and the rate limit ---

    def inject(self, path_prefix: str, kind: str, count: int = 1) -> None:
        """Fail the next `count` calls under a path: "5xx", "timeout", "disconnect", a code, or "drop_answer".

        "drop_answer" carries the call out, then closes the connection before the answer is written.
        """
        if kind not in FAULT_KINDS and not _is_error_code(kind):
            raise ValueError(f"unknown fault kind {kind!r}")
        self.faults.append(Fault(path_prefix, kind, count))

    def take_fault(self, path: str) -> str | None:
        """Consume and return the first pending fault matching `path`."""
        for fault in self.faults:
            if fault.remaining > 0 and path.startswith(fault.path_prefix):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.faults.remove(fault)
                return fault.kind
        return None

    def set_rate_limit(self, per_minute: int) -> None:
        """Change the app's per-minute call limit; a new minute starts with nothing counted."""
        self.rate_limit_per_minute = per_minute
        self._window_start, self._window_calls = time.monotonic(), 0

    def count_call(self) -> int:
        """Count one API call against the app's per-minute limit; return what remains (-1: over)."""
        now = time.monotonic()
        if now - self._window_start >= 60:
            self._window_start, self._window_calls = now, 0
        self._window_calls += 1
        return self.rate_limit_per_minute - self._window_calls

    # --- Open API operations (raise ApiError like Zalo) ---

    def api_send_cs(self, body: Any) -> Json:
        """POST /v3.0/oa/message/cs."""
        user_id, message = _recipient_and_message(body, "user_id")
        kind, text, attachments = _parse_message(message)
        user = self.users.get(user_id)
        if user is None:
            raise ApiError(-201, "user_id is invalid!")
        if not user.follower:
            raise ApiError(-213, "User has not followed OA")
        now = self.clock.now()
        if user.last_interaction is None or now - user.last_interaction > CS_WINDOW:
            raise ApiError(-230, "User has not interacted with the OA in the past 7 days")
        quote = message.get("quote_message_id")
        msg = self._store_oa_message(
            user_id, kind, text, attachments, "api", str(quote) if quote else None
        )
        self._later(self._after_cs_send(user_id, msg))
        return {"message_id": msg.msg_id, "user_id": user_id, "sent_time": epoch_ms(msg.time)}

    def api_send_group(self, body: Any) -> Json:
        """POST /v3.0/oa/group/message."""
        group_id, message = _recipient_and_message(body, "group_id")
        kind, text, attachments = _parse_message(message)
        group = self.groups.get(group_id)
        if group is None:
            raise ApiError(-201, "group_id is invalid!")
        if not group.oa_in_group:
            raise ApiError(-403, "OA is not in group")
        if group.status != "enabled":
            raise ApiError(-237, "The group is disabled")
        msg = ChatMessage(
            _msg_id(),
            self.oa_id,
            True,
            kind,
            text,
            self.clock.now(),
            "api",
            attachments=attachments,
        )
        group.messages.append(msg)
        self._later(self._emit_after_delay(self._group_echo(group, msg)))
        return {"message_id": msg.msg_id, "group_id": group_id}

    def api_v2_message(self, body: Any) -> Json:
        """POST /v2.0/oa/message: 1:1 content is shut (-240); reactions and broadcasts are accepted."""
        if not isinstance(body, dict):
            raise ApiError(-201, "body is invalid!")
        recipient = body.get("recipient") or {}
        if isinstance(recipient, dict) and recipient.get("user_id") and "message" in body:
            raise ApiError(-240, "MessageV2 API has been shut down, switch to V3")
        return {"message_id": _msg_id()}

    def api_user_detail(self, query: Json) -> Json:
        """GET /v3.0/oa/user/detail."""
        user = self.users.get(str(query.get("user_id", "")))
        if user is None:
            raise ApiError(-201, "user_id is invalid!")
        last = (
            user.last_interaction.astimezone(VN_TZ).strftime("%d/%m/%Y")
            if user.last_interaction
            else ""
        )
        avatar = f"https://s120-ava-talk.zadn.vn/sandbox/{user.user_id}.jpg"
        return {
            "user_id": user.user_id,
            "user_id_by_app": user.user_id_by_app,
            "user_external_id": "",
            "display_name": user.name,
            "user_alias": "",
            "is_sensitive": False,
            "user_last_interaction_date": last,
            "user_is_follower": user.follower,
            "avatar": avatar,
            "avatars": {"120": avatar, "240": avatar},
            "dynamic_param": "",
            "tags_and_notes_info": {"notes": [], "tag_names": []},
        }

    def api_user_list(self, query: Json) -> Json:
        """GET /v3.0/oa/user/getlist."""
        offset, count = _int(query.get("offset", 0)), _int(query.get("count", 50))
        if count < 1 or count > 50 or offset < 0:
            raise ApiError(-210, "count must be 1..50")
        users = list(self.users.values())
        if "is_follower" in query:
            wanted = query["is_follower"] in (True, "true", "True", 1, "1")
            users = [u for u in users if u.follower == wanted]
        period = query.get("last_interaction_period")
        if period:
            since, until = self._period(str(period))
            users = [u for u in users if u.last_interaction and since <= u.last_interaction < until]
        page = users[offset : offset + count]
        return {
            "total": len(users),
            "count": len(page),
            "offset": offset,
            "users": [{"user_id": u.user_id} for u in page],
        }

    def api_conversation(self, query: Json) -> list[Json]:
        """GET /v2.0/oa/conversation: newest first, at most 10 per call."""
        user = self.users.get(str(query.get("user_id", "")))
        if user is None:
            raise ApiError(-201, "user_id is invalid!")
        offset, count = _int(query.get("offset", 0)), _int(query.get("count", 5))
        if count < 1 or count > 10 or offset < 0:
            raise ApiError(-210, "count must be 1..10")
        newest = self._visible_history(self.chats[user.user_id])[offset : offset + count]
        return [self._history_item(m, user.user_id, user.name) for m in newest]

    def api_groups(self, offset: int, count: int) -> Json:
        """GET /v3.0/oa/group/getgroupsofoa."""
        if count < 1 or count > 50 or offset < 0:
            raise ApiError(-210, "count must be 1..50")
        groups = [g for g in self.groups.values() if g.oa_in_group]
        return {
            "total": len(groups),
            "groups": [
                {
                    "group_id": g.group_id,
                    "name": g.name,
                    "status": g.status,
                    "total_member": len(g.members) + 1,
                    "group_link": g.group_link,
                    "avatar": "",
                }
                for g in groups[offset : offset + count]
            ],
        }

    def api_group_detail(self, group_id: str) -> Json:
        """GET /v3.0/oa/group/getgroup."""
        group = self._group(group_id)
        valid = self.clock.now() + timedelta(days=180)
        max_member = GMF_PRODUCTS.get(group.asset_type, 100)
        return {
            "group_info": {
                "group_id": group.group_id,
                "name": group.name,
                "avatar": "",
                "group_link": group.group_link,
                "group_description": group.description,
                "status": group.status,
                "total_member": len(group.members) + 1,
                "max_member": max_member,
                "auto_delete_date": "",
            },
            "asset_info": {
                "asset_type": group.asset_type,
                "asset_id": group.asset_id,
                "valid_through": valid.astimezone(VN_TZ).strftime("%d/%m/%Y"),
                "auto_renew": True,
            },
            "group_setting": {
                "lock_send_msg": False,
                "join_appr": True,
                "enable_msg_history": True,
                "enable_link_join": True,
            },
        }

    def api_group_members(self, group_id: str, offset: int, count: int) -> Json:
        """GET /v3.0/oa/group/listmember: the OA first, then the users."""
        group = self._group(group_id)
        if count < 1 or count > 50 or offset < 0:
            raise ApiError(-210, "count must be 1..50")
        members: list[Json] = [{"oa_id": self.oa_id, "name": self.oa_name, "avatar": ""}]
        for user_id in group.members:
            user = self.users.get(user_id)
            members.append({"user_id": user_id, "name": user.name if user else "", "avatar": ""})
        return {"total": len(members), "members": members[offset : offset + count]}

    def api_create_group(self, body: Any) -> Json:
        """POST /v3.0/oa/group/creategroupwithoa."""
        if not isinstance(body, dict):
            raise ApiError(-201, "body is invalid!")
        name, asset_id = body.get("group_name"), body.get("asset_id")
        members = body.get("member_user_ids")
        if not isinstance(name, str) or not name.strip():
            raise ApiError(-201, "group_name is invalid!")
        if not isinstance(asset_id, str) or not asset_id or asset_id in self._used_assets:
            raise ApiError(-201, "asset_id is invalid!")
        pooled = self.group_assets.get(asset_id)
        if pooled is not None and pooled.valid_through <= self.clock.now():
            raise ApiError(-201, "asset_id is invalid!")
        if not isinstance(members, list) or not 1 <= len(members) <= 99:
            raise ApiError(-210, "member_user_ids must hold 1 to 99 users")
        if any(str(m) not in self.users for m in members):
            raise ApiError(-201, "member_user_ids is invalid!")
        group_id = str(5100000000000000000 + len(self.groups) + 1)
        group = self.add_group(
            group_id,
            name.strip(),
            [str(m) for m in members],
            description=str(body.get("group_description") or ""),
            asset_id=asset_id,
            asset_type=pooled.product_type if pooled else "gmf100",
        )
        return {"group_id": group.group_id, "group_link": group.group_link}

    def api_group_conversation(self, group_id: str, offset: int, count: int) -> list[Json]:
        """GET /v3.0/oa/group/conversation: shaped like the 1:1 history, newest first."""
        group = self._group(group_id)
        if count < 1 or count > 10 or offset < 0:
            raise ApiError(-210, "count must be 1..10")
        newest = self._visible_history(group.messages)[offset : offset + count]
        return [self._history_item(m, group.group_id, group.name) for m in newest]

    def _visible_history(self, messages: list[ChatMessage]) -> list[ChatMessage]:
        """A conversation as its history shows it now: newest first, without what `history_lag` hides."""
        shown_by = self.clock.now() - self.history_lag
        return [m for m in reversed(messages) if m.time <= shown_by]

    def api_getoa(self) -> Json:
        """GET /v2.0/oa/getoa (field `oaid`, as the sources read it; some integrations read `oa_id`)."""
        return {
            "oaid": self.oa_id,
            "name": self.oa_name,
            "description": f"Trang thông tin của {self.oa_name}",
            "is_verified": True,
            "oa_type": 2,
            "num_follower": sum(1 for u in self.users.values() if u.follower),
            "package_name": "Growth",
            "avatar": "",
            "cover": "",
        }

    def api_quota(self, body: Any) -> Any:
        """POST /v3.0/oa/quota/message: per-user window, or the OA's quota assets."""
        if not isinstance(body, dict):
            raise ApiError(-201, "body is invalid!")
        if "user_id" in body:
            user = self.users.get(str(body["user_id"]))
            if user is None:
                raise ApiError(-201, "user_id is invalid!")
            return {
                "last_interaction": epoch_ms(user.last_interaction)
                if user.last_interaction
                else "",
                "cs_reply": {"remain": "8", "total": "8"},
                "promotion": {
                    "daily_remain": "0",
                    "daily_total": "0",
                    "monthly_remain": "0",
                    "monthly_total": "0",
                },
            }
        return [
            {
                "asset_id": f"sandbox-{body.get('product_type', 'cs')}-asset",
                "product_type": body.get("product_type", "cs"),
                "quota_type": body.get("quota_type", "sub_quota"),
                "valid_through": epoch_ms(self.clock.now() + timedelta(days=30)),
                "auto_renew": True,
                "status": "available",
                "used_id": "",
            }
        ]

    def api_group_quota(self, body: Any) -> list[Json]:
        """POST /v3.0/oa/quota/group: the OA's GMF assets of one product type (and quota type)."""
        if not isinstance(body, dict):
            raise ApiError(-201, "body is invalid!")
        if body.get("quota_owner", "OA") != "OA":
            raise ApiError(-201, "quota_owner is invalid!")
        product = body.get("product_type")
        if product not in GMF_PRODUCTS:
            raise ApiError(-201, "product_type is invalid!")
        quota_type = body.get("quota_type")
        if quota_type is not None and quota_type not in GMF_QUOTA_TYPES:
            raise ApiError(-201, "quota_type is invalid!")
        now = self.clock.now()
        return [
            {
                "asset_id": a.asset_id,
                "product_type": a.product_type,
                "quota_type": a.quota_type,
                "valid_through": epoch_ms(a.valid_through),
                "auto_renew": a.auto_renew,
                "status": a.status if a.valid_through > now else "expired",
                "used_id": a.used_id,
            }
            for a in self.group_assets.values()
            if a.product_type == product and (quota_type is None or a.quota_type == quota_type)
        ]

    # --- what residents and OA admins do (each sends its webhook and returns the Emission) ---

    async def user_send_text(
        self, user_id: str, text: str, quote_msg_id: str | None = None
    ) -> Emission:
        """A resident types a message to the OA."""
        msg = self._store_user_message(user_id, "text", text, [], quote_msg_id)
        message: Json = {"msg_id": msg.msg_id, "text": text}
        if quote_msg_id:
            message["quote_msg_id"] = quote_msg_id
        return await self.emit(self._user_event("user_send_text", user_id, message))

    async def user_send_image(
        self,
        user_id: str,
        url: str = "https://photo-sandbox.zdn.vn/sandbox/anh.jpg",
        caption: str = "",
    ) -> Emission:
        """A resident sends a photo, optionally with a caption."""
        payload = {"url": url, "thumbnail": url}
        return await self._user_media(user_id, "user_send_image", "image", payload, caption)

    async def user_send_sticker(
        self, user_id: str, sticker_id: str = "sandbox-sticker-1"
    ) -> Emission:
        """A resident sends a sticker."""
        payload = {"id": sticker_id, "url": f"https://sticker-sandbox.zdn.vn/{sticker_id}.png"}
        return await self._user_media(user_id, "user_send_sticker", "sticker", payload, "")

    async def user_send_audio(
        self, user_id: str, url: str = "https://voice-sandbox.zdn.vn/sandbox/ghi-am.aac"
    ) -> Emission:
        """A resident sends a voice message."""
        return await self._user_media(user_id, "user_send_audio", "audio", {"url": url}, "")

    async def user_send_file(
        self,
        user_id: str,
        url: str = "https://file-sandbox.zdn.vn/sandbox/don.pdf",
        name: str = "don.pdf",
        size: str = "10240",
        file_type: str = "pdf",
    ) -> Emission:
        """A resident sends a file."""
        payload = {"url": url, "name": name, "size": size, "type": file_type}
        return await self._user_media(user_id, "user_send_file", "file", payload, "")

    async def follow(self, user_id: str, source: str = "oa_profile") -> Emission:
        """A user follows the OA (an interaction: the 7-day window opens)."""
        user = self._user(user_id)
        user.follower = True
        user.last_interaction = self.clock.now()
        return await self.emit(self._follow_event("follow", user, source))

    async def unfollow(self, user_id: str) -> Emission:
        """A user stops following the OA."""
        user = self._user(user_id)
        user.follower = False
        return await self.emit(self._follow_event("unfollow", user, "oa_profile"))

    async def mark_seen(self, user_id: str, msg_ids: list[str] | None = None) -> Emission:
        """A resident opens the chat: OA messages (all unseen ones by default) become seen."""
        self._user(user_id)
        chat = self.chats[user_id]
        wanted = set(msg_ids) if msg_ids is not None else None
        seen = [
            m for m in chat if m.from_oa and not m.seen and (wanted is None or m.msg_id in wanted)
        ]
        if not seen:
            return Emission({}, None, "")
        for msg in seen:
            msg.seen = msg.received = True
        event = self._oa_to_user_event(
            "user_seen_message", user_id, {"msg_ids": [m.msg_id for m in seen]}
        )
        return await self.emit(event)

    async def oa_manager_send_text(self, user_id: str, text: str) -> Emission:
        """A person types in OA Manager: the message is stored and echoed as `oa_send_text`."""
        self._user(user_id)
        msg = self._store_oa_message(user_id, "text", text, [], "oa_manager", None)
        event = self._oa_to_user_event(
            "oa_send_text", user_id, {"msg_id": msg.msg_id, "text": text}
        )
        event["sender"]["admin_id"] = "9000000000000000001"
        return await self.emit(event)

    async def user_send_group_text(
        self, group_id: str, user_id: str, text: str, quote_msg_id: str | None = None
    ) -> Emission:
        """A member writes in an OA group; sender.id is the user and recipient.id the group."""
        group = self._group(group_id)
        user = self._user(user_id)
        if user_id not in group.members:
            raise ValueError(f"user {user_id} is not a member of group {group_id}")
        msg = ChatMessage(
            _msg_id(), user_id, False, "text", text, self.clock.now(), "user", quote_msg_id
        )
        group.messages.append(msg)
        message: Json = {"msg_id": msg.msg_id, "text": text}
        if quote_msg_id:
            message["quote_msg_id"] = quote_msg_id
        event = {
            "app_id": self.app_id,
            "user_id_by_app": user.user_id_by_app,
            "event_name": "user_send_group_text",
            "timestamp": epoch_ms(msg.time),
            "sender": {"id": user_id},
            "recipient": {"id": group_id},
            "message": message,
        }
        return await self.emit(event)

    async def user_join_group(
        self,
        group_id: str,
        user_id: str,
        *,
        event_name: str = "user_join_group",
        id_key: str = "id",
    ) -> Emission:
        """A user joins an OA group (by its link, or let in by an admin); a lifecycle event follows."""
        group = self._group(group_id)
        self._user(user_id)
        if user_id in group.members:
            raise ValueError(f"user {user_id} is already a member of group {group_id}")
        group.members.append(user_id)
        return await self.emit(self._group_lifecycle_event(event_name, group, [user_id], id_key))

    async def user_leave_group(
        self, group_id: str, user_id: str, *, event_name: str = "user_out_group", id_key: str = "id"
    ) -> Emission:
        """A user leaves (or is removed from) an OA group; a lifecycle event follows."""
        group = self._group(group_id)
        if user_id not in group.members:
            raise ValueError(f"user {user_id} is not a member of group {group_id}")
        group.members.remove(user_id)
        return await self.emit(self._group_lifecycle_event(event_name, group, [user_id], id_key))

    def _group_lifecycle_event(
        self, event_name: str, group: SandboxGroup, user_ids: list[str], id_key: str
    ) -> Json:
        # Shape as one GMF integration reads it (zalo-oa.md §3.5): flat group_id plus users[] of
        # {id} or {user_id}; the doc leaves the rest open, so the envelope follows the follow event.
        if id_key not in ("id", "user_id"):
            raise ValueError("id_key must be 'id' or 'user_id'")
        return {
            "app_id": self.app_id,
            "oa_id": self.oa_id,
            "event_name": event_name,
            "timestamp": epoch_ms(self.clock.now()),
            "group_id": group.group_id,
            "users": [{id_key: uid} for uid in user_ids],
        }

    # --- reading state (control API, phone page, tests) ---

    def chat_json(self, user_id: str) -> list[Json]:
        """A user's 1:1 conversation, oldest first."""
        self._user(user_id)
        return [self._chat_item(m) for m in self.chats[user_id]]

    def group_chat_json(self, group_id: str) -> list[Json]:
        """A group's conversation, oldest first."""
        return [self._chat_item(m) for m in self._group(group_id).messages]

    def users_json(self) -> list[Json]:
        """All users for the control API."""
        return [
            {
                "user_id": u.user_id,
                "name": u.name,
                "hamlet": u.hamlet,
                "role": u.role,
                "role_label": role_label(u.role, HAMLET_WORD) if u.role else "Người dân",
                "follower": u.follower,
                "last_interaction": u.last_interaction.isoformat() if u.last_interaction else None,
                "groups": [g.group_id for g in self.groups.values() if u.user_id in g.members],
            }
            for u in self.users.values()
        ]

    def groups_json(self) -> list[Json]:
        """All groups for the control API."""
        return [
            {
                "group_id": g.group_id,
                "name": g.name,
                "status": g.status,
                "oa_in_group": g.oa_in_group,
                "members": [
                    {"user_id": m, "name": self.users[m].name if m in self.users else ""}
                    for m in g.members
                ],
            }
            for g in self.groups.values()
        ]

    # --- webhook delivery ---

    async def emit(self, event: Json) -> Emission:
        """Sign and POST one event to the webhook URL, recording the delivery."""
        self._event_seq += 1
        event_id = f"ev{self._event_seq}"
        body = json.dumps(event, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        timestamp = str(event.get("timestamp", ""))
        mac = hashlib.sha256(
            self.app_id.encode() + body + timestamp.encode() + self.oa_secret_key.encode()
        )
        signature = f"mac={mac.hexdigest()}"
        self._events[event_id] = (str(event.get("event_name", "")), body, signature)
        status = await self._deliver(event_id, 0)
        return Emission(event, status, event_id)

    async def redeliver(self, event_id: str) -> int | None:
        """Send an earlier event again with the identical body and a `num_retry` header, as Zalo retries."""
        if event_id not in self._events:
            raise KeyError(event_id)
        retries = sum(1 for d in self.deliveries if d.event_id == event_id)
        return await self._deliver(event_id, retries)

    def delivery_bodies(self, event_name: str | None = None) -> list[Json]:
        """Parsed bodies of first deliveries, optionally of one event name (handy in tests)."""
        return [
            json.loads(d.body)
            for d in self.deliveries
            if d.num_retry == 0 and (event_name is None or d.event_name == event_name)
        ]

    @property
    def busy(self) -> bool:
        """Whether delayed events (receipts, echoes) are still on their way to the webhook."""
        return bool(self._tasks)

    async def wait_idle(self) -> None:
        """Wait until every delayed event (receipts, echoes) has been delivered."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        """Cancel pending deliveries and close the HTTP session the platform opened."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        if self._own_http and self._http is not None:
            await self._http.close()
            self._http = None

    async def _deliver(self, event_id: str, num_retry: int) -> int | None:
        event_name, body, signature = self._events[event_id]
        headers = {"Content-Type": "application/json", "X-ZEvent-Signature": signature}
        if num_retry:
            headers["num_retry"] = str(num_retry)
        status: int | None = None
        error: str | None = None
        if not self.webhook_url:
            error = "no webhook URL"
        else:
            if self._http is None:
                self._http = aiohttp.ClientSession()
            try:
                async with self._http.post(
                    self.webhook_url,
                    data=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self.webhook_timeout),
                ) as response:
                    status = response.status
                    await response.read()
            except (aiohttp.ClientError, TimeoutError) as exc:
                error = repr(exc)
                log.warning("sandbox webhook %s (%s) failed: %s", event_id, event_name, exc)
        self.deliveries.append(
            Delivery(
                event_id, event_name, body, signature, num_retry, status, error, self.clock.now()
            )
        )
        return status

    def _later(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _emit_after_delay(self, event: Json) -> None:
        await asyncio.sleep(self.event_delay)
        await self.emit(event)

    async def _after_cs_send(self, user_id: str, msg: ChatMessage) -> None:
        # The echo of every OA message, then the device receipt, a moment after the API answered.
        await asyncio.sleep(self.event_delay)
        echo_name = {"image": "oa_send_image", "file": "oa_send_file", "sticker": "oa_send_sticker"}
        echo_message: Json = {"msg_id": msg.msg_id, "text": msg.text}
        if msg.attachments:
            echo_message["attachments"] = msg.attachments
        await self.emit(
            self._oa_to_user_event(echo_name.get(msg.kind, "oa_send_text"), user_id, echo_message)
        )
        msg.received = True
        await self.emit(
            self._oa_to_user_event("user_received_message", user_id, {"msg_id": msg.msg_id})
        )

    def _group_echo(self, group: SandboxGroup, msg: ChatMessage) -> Json:
        message: Json = {"msg_id": msg.msg_id, "text": msg.text}
        if msg.attachments:
            message["attachments"] = msg.attachments
        return {
            "app_id": self.app_id,
            "event_name": "oa_send_group_text"
            if msg.kind == "text"
            else f"oa_send_group_{msg.kind}",
            "timestamp": epoch_ms(self.clock.now()),
            "sender": {"id": self.oa_id},
            "recipient": {"id": group.group_id},
            "message": message,
        }

    # --- helpers ---

    def _user(self, user_id: str) -> SandboxUser:
        user = self.users.get(str(user_id))
        if user is None:
            raise KeyError(f"unknown sandbox user {user_id}")
        return user

    def _group(self, group_id: str) -> SandboxGroup:
        group = self.groups.get(str(group_id))
        if group is None:
            raise ApiError(-201, "group_id is invalid!")
        return group

    def _store_user_message(
        self, user_id: str, kind: str, text: str, attachments: list[Json], quote_msg_id: str | None
    ) -> ChatMessage:
        user = self._user(user_id)
        now = self.clock.now()
        user.last_interaction = now  # writing to the OA opens the 7-day window
        msg = ChatMessage(
            _msg_id(), user_id, False, kind, text, now, "user", quote_msg_id, attachments
        )
        self.chats[user_id].append(msg)
        return msg

    def _store_oa_message(
        self,
        user_id: str,
        kind: str,
        text: str,
        attachments: list[Json],
        sent_by: str,
        quote: str | None,
    ) -> ChatMessage:
        msg = ChatMessage(
            _msg_id(), self.oa_id, True, kind, text, self.clock.now(), sent_by, quote, attachments
        )
        self.chats[user_id].append(msg)
        return msg

    async def _user_media(
        self, user_id: str, event_name: str, kind: str, payload: Json, caption: str
    ) -> Emission:
        attachments = [{"type": kind, "payload": payload}]
        msg = self._store_user_message(user_id, kind, caption, attachments, None)
        message: Json = {"msg_id": msg.msg_id, "attachments": attachments}
        if caption:
            message["text"] = caption
        return await self.emit(self._user_event(event_name, user_id, message))

    def _user_event(self, event_name: str, user_id: str, message: Json) -> Json:
        return {
            "app_id": self.app_id,
            "user_id_by_app": self._user(user_id).user_id_by_app,
            "event_name": event_name,
            "timestamp": epoch_ms(self.clock.now()),
            "sender": {"id": user_id},
            "recipient": {"id": self.oa_id},
            "message": message,
        }

    def _oa_to_user_event(self, event_name: str, user_id: str, message: Json) -> Json:
        return {
            "app_id": self.app_id,
            "user_id_by_app": self._user(user_id).user_id_by_app,
            "event_name": event_name,
            "timestamp": epoch_ms(self.clock.now()),
            "sender": {"id": self.oa_id},
            "recipient": {"id": user_id},
            "message": message,
        }

    def _follow_event(self, event_name: str, user: SandboxUser, source: str) -> Json:
        return {
            "app_id": self.app_id,
            "oa_id": self.oa_id,
            "user_id_by_app": user.user_id_by_app,
            "event_name": event_name,
            "source": source,
            "follower": {"id": user.user_id},
            "timestamp": epoch_ms(self.clock.now()),
        }

    def _history_item(self, msg: ChatMessage, peer_id: str, peer_name: str) -> Json:
        # Shape of /v2.0/oa/conversation items as integrations read them (not in the doc):
        # src 0 = sent by the OA, 1 = sent by the user; time in epoch ms (a number).
        if msg.from_oa:
            from_id, from_name, to_id, to_name = self.oa_id, self.oa_name, peer_id, peer_name
        else:
            sender = self.users.get(msg.sender_id)
            from_id, from_name = msg.sender_id, sender.name if sender else ""
            to_id, to_name = (
                (self.oa_id, self.oa_name) if peer_id == msg.sender_id else (peer_id, peer_name)
            )
        item: Json = {
            "src": 0 if msg.from_oa else 1,
            "time": int(epoch_ms(msg.time)),
            "sent_time": msg.time.astimezone(VN_TZ).strftime("%H:%M:%S %d/%m/%Y"),
            "from_id": from_id,
            "from_display_name": from_name,
            "from_avatar": "",
            "to_id": to_id,
            "to_display_name": to_name,
            "to_avatar": "",
            "message_id": msg.msg_id,
            "type": {"image": "photo", "audio": "voice"}.get(msg.kind, msg.kind),
            "message": msg.text,
        }
        if msg.attachments:
            url = msg.attachments[0].get("payload", {}).get("url")
            if url:
                item["url"] = item["thumb"] = url
        return item

    def _chat_item(self, msg: ChatMessage) -> Json:
        sender = self.users.get(msg.sender_id)
        return {
            "msg_id": msg.msg_id,
            "from": "oa" if msg.from_oa else "user",
            "sender_id": msg.sender_id,
            "sender_name": self.oa_name
            if msg.from_oa
            else (sender.name if sender else msg.sender_id),
            "kind": msg.kind,
            "text": msg.text,
            "time": epoch_ms(msg.time),
            "time_local": msg.time.astimezone(VN_TZ).strftime("%H:%M %d/%m"),
            "sent_by": msg.sent_by,
            "quote_msg_id": msg.quote_msg_id,
            "attachments": msg.attachments,
            "received": msg.received,
            "seen": msg.seen,
        }

    def _period(self, period: str) -> tuple[datetime, datetime]:
        now = self.clock.now()
        today = now.astimezone(VN_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
        far = now + timedelta(days=1)
        if period == "TODAY":
            return today, far
        if period == "YESTERDAY":
            return today - timedelta(days=1), today
        if period in ("L7D", "L30D"):
            return now - timedelta(days=7 if period == "L7D" else 30), far
        try:
            start, end = period.split(":")
            first = datetime.strptime(start, "%Y_%m_%d").replace(tzinfo=VN_TZ)
            last = datetime.strptime(end, "%Y_%m_%d").replace(tzinfo=VN_TZ) + timedelta(days=1)
        except ValueError:
            raise ApiError(-201, "last_interaction_period is invalid!") from None
        return first, last


def _is_error_code(kind: str) -> bool:
    """Whether a fault kind is one of Zalo's (negative) error codes, like "-32"."""
    try:
        return int(kind) < 0
    except ValueError:
        return False


def _msg_id() -> str:
    return secrets.token_hex(16)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ApiError(-201, f"{value!r} is invalid!") from None


def _recipient_and_message(body: Any, key: str) -> tuple[str, Json]:
    if not isinstance(body, dict):
        raise ApiError(-201, "body is invalid!")
    recipient, message = body.get("recipient"), body.get("message")
    if not isinstance(recipient, dict) or not recipient.get(key):
        raise ApiError(-201, f"recipient.{key} is invalid!")
    if not isinstance(message, dict):
        raise ApiError(-201, "message is invalid!")
    return str(recipient[key]), message


def _parse_message(message: Json) -> tuple[str, str, list[Json]]:
    """Validate a message object the way Zalo does; return (kind, text, attachments)."""
    text = message.get("text", "")
    if not isinstance(text, str):
        raise ApiError(-201, "message.text is invalid!")
    if len(text) > MAX_TEXT:
        raise ApiError(-210, "message.text exceeds 2000 characters")
    attachment = message.get("attachment")
    if attachment is None:
        if not text.strip():
            raise ApiError(-201, "message.text is invalid!")
        return "text", text, []
    if not isinstance(attachment, dict) or not isinstance(attachment.get("payload"), dict):
        raise ApiError(-201, "message.attachment is invalid!")
    payload = attachment["payload"]
    if attachment.get("type") == "file":
        if not payload.get("token"):
            raise ApiError(-201, "attachment.payload.token is invalid!")
        return "file", text, [{"type": "file", "payload": dict(payload)}]
    if attachment.get("type") != "template":
        raise ApiError(-233, "Message type is invalid")
    if "buttons" in payload:
        buttons = payload["buttons"]
        if not isinstance(buttons, list) or not buttons or not text.strip():
            raise ApiError(-201, "attachment.payload.buttons is invalid!")
        return "text", text, [{"type": "buttons", "payload": {"buttons": buttons}}]
    template = payload.get("template_type")
    elements = payload.get("elements")
    if template == "media" and isinstance(elements, list) and len(elements) == 1:
        element = elements[0] if isinstance(elements[0], dict) else {}
        media_type = element.get("media_type")
        if media_type in ("image", "gif"):
            if bool(element.get("url")) == bool(element.get("attachment_id")):
                raise ApiError(-201, "use url or attachment_id, not both")
            return "image", text, [{"type": "image", "payload": {"url": element.get("url", "")}}]
        if media_type == "sticker" and element.get("attachment_id"):
            return (
                "sticker",
                text,
                [{"type": "sticker", "payload": {"id": element["attachment_id"]}}],
            )
    if template == "request_user_info" and isinstance(elements, list) and len(elements) == 1:
        return "request_user_info", text, [{"type": "request_user_info", "payload": dict(payload)}]
    raise ApiError(-233, "Message type is invalid")
