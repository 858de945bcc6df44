"""Finding a verification code in what a resident forwards or types."""

from __future__ import annotations

import pytest

from bot.zalo.mentions import escape_mentions
from broadcasts.render import new_verification_code
from broadcasts.tracking import find_code


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Mã xác thực: 6VG3HW — kiểm tra bằng cách gửi mã này cho OA của xã.", "6VG3HW"),
        (
            "TRUONG AP THONG BAO ... Ma xac thuc: 6VG3HW",
            "6VG3HW",
        ),  # an unaccented capital word is not it
        ("6VG3HW", "6VG3HW"),
        ("mã 6VG3HW có đúng không", "6VG3HW"),
        ("ma xac thuc QWERTY", "QWERTY"),
        ("ma so thue la gi", None),
        ("vay vốn hộ nghèo", None),
        ("Mã xác thực: K7P2QX", None),  # 2 is not in the alphabet: not one of ours
    ],
)
def test_find_code(text: str, code: str | None) -> None:
    assert find_code(text) == code


def test_generated_codes_are_found_in_the_closing_line() -> None:
    for _ in range(200):
        code = new_verification_code()
        assert find_code(f"Mã xác thực: {code} — kiểm tra") == code


def test_mentions_cannot_be_smuggled_into_a_group() -> None:
    assert "[@" not in escape_mentions("xin chào [@5000000000000000101] [[@@1]")
