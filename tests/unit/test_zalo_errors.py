"""Zalo error codes map onto typed errors with the documented retry semantics."""

import pytest

from bot.zalo.errors import (
    AppMisconfigured,
    GroupDisabled,
    NotFollower,
    NotInGroup,
    OutsideWindow,
    RateLimited,
    TokenInvalid,
    TransientHTTPError,
    UserBlocked,
    ZaloError,
    error_for,
)


@pytest.mark.parametrize(
    ("code", "cls", "transient"),
    [
        (-32, RateLimited, True),
        (-216, TokenInvalid, False),
        (-220, TokenInvalid, False),
        (-124, TokenInvalid, False),
        (-213, NotFollower, False),
        (-230, OutsideWindow, False),
        (-232, OutsideWindow, False),
        (-237, GroupDisabled, False),
        (-403, NotInGroup, False),
        (-217, UserBlocked, False),
        (-209, AppMisconfigured, False),
    ],
)
def test_codes_map_to_types(code: int, cls: type[ZaloError], transient: bool) -> None:
    error = error_for(code, "msg")
    assert type(error) is cls
    assert error.code == code and error.message == "msg"
    assert error.transient is transient and error.permanent is not transient


def test_unknown_code_is_a_permanent_plain_error() -> None:
    error = error_for(-999, "new")
    assert type(error) is ZaloError and not error.transient


def test_transport_failures_are_transient() -> None:
    assert TransientHTTPError("bad gateway", 502).transient
