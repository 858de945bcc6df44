"""Which messages are small talk: greetings, thanks and "ok"/"dạ", typed every way residents do."""

from __future__ import annotations

import pytest

from bot.chat.small_talk import small_talk


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("chào em", "greeting"),
        ("Chào ad", "greeting"),
        ("alo", "greeting"),
        ("alo alo", "greeting"),
        ("hi ad", "greeting"),
        ("xin chào UBND xã", "greeting"),
        ("cảm ơn", "thanks"),
        ("cam on ad nhieu nha", "thanks"),
        ("dạ cảm ơn cán bộ", None),  # "cán bộ" may be a request for one: not small talk
        ("tks", "thanks"),
        ("dạ vâng, cảm ơn ạ", "thanks"),  # thanks are what the reply answers
        ("ok", "ack"),
        ("Ok ạ", "ack"),
        ("dạ", "ack"),
        ("vâng", "ack"),
        ("ừ", "ack"),
        ("được rồi", "ack"),
    ],
)
def test_small_talk(text: str, kind: str | None) -> None:
    assert small_talk(text) == kind


@pytest.mark.parametrize(
    "text",
    [
        "chào ad cho hỏi vay vốn hộ nghèo",  # a greeting that opens a question is a question
        "alo có ai không",  # asks for a person
        "ok vậy thủ tục ra sao",
        "cảm ơn, còn thẻ bhyt thì sao",
        "",
        "0",
        "vay vốn",
    ],
)
def test_questions_are_not_small_talk(text: str) -> None:
    assert small_talk(text) is None
