"""Staff passwords, hashed with Argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
MIN_LENGTH = 8
# Checked against when the phone has no password, so an unknown phone costs the same time.
_DUMMY = _HASHER.hash("not a password of anyone")


def hash_password(password: str) -> str:
    """The stored form of a new password."""
    return _HASHER.hash(password)


def password_problem(password: str) -> str | None:
    """Why a new password is refused, in Vietnamese; None if it will do."""
    if len(password) < MIN_LENGTH:
        return f"Mật khẩu cần ít nhất {MIN_LENGTH} ký tự."
    if password.strip() != password:
        return "Mật khẩu không được bắt đầu hay kết thúc bằng dấu cách."
    return None


def verify_password(stored: str | None, password: str) -> bool:
    """Whether `password` matches the stored hash (always false, at the same cost, without one)."""
    try:
        return _HASHER.verify(stored or _DUMMY, password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
