"""Group mentions: Zalo reads "[@<user_id>]" and "[@<group_id>]" inside a group message's text."""

from __future__ import annotations


def mention(user_id: str) -> str:
    """The inline mention of one member."""
    return f"[@{user_id}]"


def escape_mentions(text: str) -> str:
    """Break every "[@" so that text relayed to a Zalo group can never mention a member or everyone."""
    while "[@" in text:
        text = text.replace("[@", "[ @")
    return text
