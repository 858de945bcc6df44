"""The event parser: documented payloads, odd ones, and arbitrary JSON."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.inbound.events import (
    Follow,
    GroupText,
    MessageReceived,
    MessagesSeen,
    OAEcho,
    Unfollow,
    Unknown,
    UserMedia,
    UserText,
    dedupe_key,
    parse_event,
)

TEXT = {
    "app_id": "1",
    "user_id_by_app": "9",
    "event_name": "user_send_text",
    "timestamp": "1718000000000",
    "sender": {"id": "u1"},
    "recipient": {"id": "oa"},
    "message": {"msg_id": "m1", "text": "Khi nào họp thôn?"},
}


def test_documented_payloads_parse_to_their_events() -> None:
    assert parse_event(TEXT) == UserText(
        "user_send_text", "1718000000000", "u1", "m1", "Khi nào họp thôn?"
    )
    image = {
        "event_name": "user_send_image",
        "timestamp": "1",
        "sender": {"id": "u1"},
        "recipient": {"id": "oa"},
        "message": {
            "msg_id": "m2",
            "text": "ảnh",
            "attachments": [{"type": "image", "payload": {"url": "https://x"}}],
        },
    }
    assert parse_event(image) == UserMedia(
        "user_send_image", "1", "u1", "m2", "image", "ảnh", ("https://x",)
    )
    follow = {
        "oa_id": "oa",
        "event_name": "follow",
        "follower": {"id": "u2"},
        "timestamp": "2",
        "source": "qr",
    }
    assert parse_event(follow) == Follow("follow", "2", "u2", None, "qr")
    assert parse_event({**follow, "event_name": "unfollow"}) == Unfollow("unfollow", "2", "u2")
    received = {
        "event_name": "user_received_message",
        "timestamp": "3",
        "sender": {"id": "oa"},
        "recipient": {"id": "u1"},
        "message": {"msg_id": "ours"},
    }
    assert parse_event(received) == MessageReceived("user_received_message", "3", "u1", "ours")
    seen = {**received, "event_name": "user_seen_message", "message": {"msg_ids": ["a", "b"]}}
    assert parse_event(seen) == MessagesSeen("user_seen_message", "3", "u1", ("a", "b"))
    echo = {**received, "event_name": "oa_send_text", "message": {"msg_id": "e1", "text": "chào"}}
    assert parse_event(echo) == OAEcho("oa_send_text", "3", "u1", "e1", "chào")
    group = {**TEXT, "event_name": "user_send_group_text", "recipient": {"id": "g1"}}
    assert parse_event(group) == GroupText(
        "user_send_group_text", "1718000000000", "g1", "u1", "m1", "Khi nào họp thôn?"
    )


def test_unknown_and_incomplete_events_are_kept_as_unknown() -> None:
    assert isinstance(parse_event({"event_name": "user_click_chatnow", "timestamp": "1"}), Unknown)
    assert isinstance(parse_event({**TEXT, "sender": "u1"}), Unknown)
    assert isinstance(
        parse_event({"event_name": "user_seen_message", "recipient": {"id": "u"}}), Unknown
    )


def test_ids_given_as_numbers_stay_exact_strings() -> None:
    big = 2**63 + 7
    event = parse_event({**TEXT, "sender": {"id": big}})
    assert isinstance(event, UserText) and event.user_id == str(big)


def test_dedupe_key_is_the_msg_id_per_event_kind() -> None:
    assert dedupe_key(TEXT) == "user_send_text:m1"
    echo = {"event_name": "oa_send_text", "message": {"msg_id": "m1"}}
    assert dedupe_key(echo) != dedupe_key(TEXT)
    follow = {"event_name": "follow", "follower": {"id": "u2"}, "timestamp": "2", "oa_id": "oa"}
    assert dedupe_key(follow) == dedupe_key(dict(follow))
    assert dedupe_key(follow) != dedupe_key({**follow, "timestamp": "3"})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=20,
)
event_like = st.fixed_dictionaries(
    {},
    optional={
        "event_name": st.sampled_from(
            [
                "user_send_text",
                "user_send_image",
                "follow",
                "unfollow",
                "user_seen_message",
                "user_received_message",
                "oa_send_text",
                "user_send_group_text",
                "anything",
            ]
        )
        | st.text(max_size=30),
        "timestamp": st.text(max_size=20) | st.integers(),
        "sender": json_values,
        "recipient": json_values,
        "follower": json_values,
        "message": json_values,
    },
)


@settings(max_examples=300)
@given(event_like)
def test_parser_never_raises_and_keys_fit_the_column(payload: dict[str, Any]) -> None:
    event = parse_event(payload)
    assert isinstance(event.event_name, str)
    key = dedupe_key(payload)
    assert 0 < len(key) <= 255
    assert dedupe_key(json.loads(json.dumps(payload))) == key
