"""Zalo webhook events as frozen dataclasses; unknown events are kept raw."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

MEDIA_KINDS = (
    "image",
    "gif",
    "sticker",
    "audio",
    "video",
    "file",
    "link",
    "location",
    "business_card",
)


class MalformedEvent(ValueError):
    """The body is not a Zalo event we can read (not JSON, not an object, no event_name)."""


@dataclass(frozen=True)
class Event:
    """Any event: its name and timestamp string (epoch ms)."""

    event_name: str
    timestamp: str


@dataclass(frozen=True)
class UserText(Event):
    """A resident typed text to the OA."""

    user_id: str
    msg_id: str
    text: str
    quote_msg_id: str | None = None


@dataclass(frozen=True)
class UserMedia(Event):
    """A resident sent a photo, voice note, sticker, file, link or location."""

    user_id: str
    msg_id: str
    kind: str
    caption: str = ""
    urls: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Follow(Event):
    """A Zalo user followed the OA."""

    user_id: str
    user_id_by_app: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class Unfollow(Event):
    """A Zalo user stopped following the OA."""

    user_id: str


@dataclass(frozen=True)
class MessageReceived(Event):
    """Our 1:1 message reached the resident's device."""

    user_id: str
    msg_id: str


@dataclass(frozen=True)
class MessagesSeen(Event):
    """The resident read our 1:1 message(s)."""

    user_id: str
    msg_ids: tuple[str, ...]


@dataclass(frozen=True)
class OAEcho(Event):
    """Echo of a message the OA sent: by our API call or by a person in OA Manager."""

    user_id: str
    msg_id: str
    text: str


@dataclass(frozen=True)
class GroupText(Event):
    """A member wrote text in one of the OA's groups."""

    group_id: str
    user_id: str
    msg_id: str
    text: str
    quote_msg_id: str | None = None


@dataclass(frozen=True)
class GroupMembership(Event):
    """Users joined or left one of the OA's groups."""

    group_id: str
    user_ids: tuple[str, ...]
    joined: bool  # True: joined (or were let in); False: left or were removed


# Lifecycle names disagree between sources (zalo-oa.md §3.5); every one seen is accepted.
GROUP_JOIN_EVENTS = frozenset(
    {
        "user_join_group",  # R6
        "accept_request_join_group",  # one GMF integration
        "react_request_join_group_accept",  # R3
    }
)
GROUP_LEAVE_EVENTS = frozenset(
    {
        "user_out_group",  # R6 and one GMF integration
        "user_leave_group",  # R3
        "remove_member_group",  # removal by an admin: names not documented, kept lenient
        "remove_group_member",
        "remove_members_group",
    }
)


@dataclass(frozen=True)
class Unknown(Event):
    """An event this version does not handle; stored raw and logged."""


def _str(value: Any) -> str | None:
    """Ids and timestamps are strings at Zalo; accept numbers but never floats' precision loss."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(key)
    return obj


def event_timestamp(payload: dict[str, Any]) -> str:
    """The body's timestamp string, used in the signature ('' when absent)."""
    return _str(payload.get("timestamp")) or ""


def dedupe_key(payload: dict[str, Any]) -> str:
    """The key an event is stored under: its msg_id, or what identifies it when it has none."""
    name = _str(payload.get("event_name")) or "?"
    msg_id = _str(_get(payload, "message", "msg_id"))
    if msg_id:
        # An echo and a delivery receipt carry the same msg_id as each other, so the name is part of the key.
        return f"{name}:{msg_id}"[:255]
    subject = (
        _str(_get(payload, "sender", "id"))
        or _str(_get(payload, "follower", "id"))
        or _str(payload.get("group_id"))
        or ""
    )
    other = _str(_get(payload, "recipient", "id")) or _str(payload.get("oa_id")) or ""
    extra = _get(payload, "message", "msg_ids")
    if not isinstance(extra, list) and isinstance(payload.get("users"), list):
        # Group lifecycle events: two joins in one group in the same millisecond are different events.
        extra = _group_user_ids(payload["users"])
    tail = ""
    if isinstance(extra, list):
        tail = ":" + hashlib.sha256(",".join(str(x) for x in extra).encode()).hexdigest()[:16]
    return f"{name}:{event_timestamp(payload)}:{subject}:{other}{tail}"[:255]


def _group_user_ids(users: list[Any]) -> list[str]:
    """User ids of a lifecycle event's users[]: items are {id} or {user_id} objects (or bare ids)."""
    ids: list[str] = []
    for item in users:
        uid = (
            _str(item.get("id")) or _str(item.get("user_id"))
            if isinstance(item, dict)
            else _str(item)
        )
        if uid and uid not in ids:
            ids.append(uid)
    return ids


def _membership(name: str, ts: str, payload: dict[str, Any]) -> Event:
    """A join or leave event: flat group_id plus users[]; a single sender/recipient pair is also read."""
    group_id = _str(payload.get("group_id")) or _str(_get(payload, "recipient", "group_id"))
    users = payload.get("users")
    ids = _group_user_ids(users) if isinstance(users, list) else []
    if not ids:
        one = _str(payload.get("user_id")) or _str(_get(payload, "sender", "id"))
        ids = [one] if one else []
        group_id = group_id or _str(_get(payload, "recipient", "id"))
    if not group_id or not ids:
        log.warning("group event %r without a readable group_id and users[]: kept as unknown", name)
        return Unknown(name, ts)
    return GroupMembership(name, ts, group_id, tuple(ids), name in GROUP_JOIN_EVENTS)


def parse_event(payload: dict[str, Any]) -> Event:
    """Turn a decoded webhook body into an Event; anything unreadable becomes Unknown."""
    name = _str(payload.get("event_name")) or ""
    ts = event_timestamp(payload)
    sender = _str(_get(payload, "sender", "id"))
    recipient = _str(_get(payload, "recipient", "id"))
    message = payload.get("message") if isinstance(payload.get("message"), dict) else {}
    assert isinstance(message, dict)
    msg_id = _str(message.get("msg_id")) or ""
    raw_text = message.get("text")
    text = raw_text if isinstance(raw_text, str) else ""
    quote = _str(message.get("quote_msg_id"))
    unknown = Unknown(name, ts)

    if name in GROUP_JOIN_EVENTS or name in GROUP_LEAVE_EVENTS:
        return _membership(name, ts, payload)
    if name == "user_send_text":
        return UserText(name, ts, sender, msg_id, text, quote) if sender else unknown
    if name.startswith("user_send_group_"):
        group_id = recipient or _str(_get(payload, "recipient", "group_id"))
        if name == "user_send_group_text" and sender and group_id:
            return GroupText(name, ts, group_id, sender, msg_id, text, quote)
        return unknown
    if name.startswith("user_send_"):
        kind = name.removeprefix("user_send_")
        if kind in MEDIA_KINDS and sender:
            urls = tuple(
                u
                for a in message.get("attachments") or []
                if isinstance(a, dict) and isinstance(u := _get(a, "payload", "url"), str)
            )
            return UserMedia(name, ts, sender, msg_id, kind, text, urls)
        return unknown
    if name == "follow":
        follower = _str(_get(payload, "follower", "id")) or sender
        by_app = _str(payload.get("user_id_by_app"))
        source = _str(payload.get("source"))
        return Follow(name, ts, follower, by_app, source) if follower else unknown
    if name == "unfollow":
        follower = _str(_get(payload, "follower", "id")) or sender
        return Unfollow(name, ts, follower) if follower else unknown
    if name == "user_received_message":
        return MessageReceived(name, ts, recipient, msg_id) if recipient and msg_id else unknown
    if name == "user_seen_message":
        ids = message.get("msg_ids")
        if recipient and isinstance(ids, list):
            return MessagesSeen(name, ts, recipient, tuple(s for x in ids if (s := _str(x))))
        return unknown
    if name.startswith("oa_send_") and not name.startswith("oa_send_group_"):
        return OAEcho(name, ts, recipient, msg_id, text) if recipient and msg_id else unknown
    return unknown
