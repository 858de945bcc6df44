"""Vietnamese phone numbers as people type them, in one stored form (0xxxxxxxxx)."""

from __future__ import annotations

import re

_SEPARATORS = re.compile(r"[\s.\-()]")


def normalise_phone(text: str) -> str | None:
    """ "0912 345 678", "+84 912.345.678" or "84912345678" → "0912345678"; None if not a phone."""
    digits = _SEPARATORS.sub("", text.strip())
    if digits.startswith("+84"):
        digits = "0" + digits[3:]
    elif digits.startswith("84") and len(digits) in (11, 12):
        digits = "0" + digits[2:]
    if not digits.isdigit() or not digits.startswith("0") or len(digits) not in (10, 11):
        return None
    return digits
