"""Typed errors for Zalo OA API failures, keyed by Zalo's error codes."""

from __future__ import annotations

from typing import ClassVar


class ZaloClientError(Exception):
    """Base of everything this package raises about a failed call."""

    transient: ClassVar[bool] = False


class ZaloError(ZaloClientError):
    """Zalo answered with a non-zero `error` code (usually with HTTP 200)."""

    codes: ClassVar[tuple[int, ...]] = ()

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"Zalo error {code}: {message}")
        self.code = code
        self.message = message

    @property
    def permanent(self) -> bool:
        """True when retrying the same call cannot help."""
        return not self.transient


class RateLimited(ZaloError):
    """-32: the app or the OA reached its per-minute call limit; back off and retry."""

    codes = (-32,)
    transient = True


class SendFailed(ZaloError):
    """-200: generic send failure; worth a few retries."""

    codes = (-200,)
    transient = True


class TokenInvalid(ZaloError):
    """-216/-220/-124: the access token is invalid, expired or removed; refresh once."""

    codes = (-216, -220, -124)


class InvalidRequest(ZaloError):
    """-201/-210/-233: a parameter, size or message type the API refuses; fix the payload."""

    codes = (-201, -210, -233)


class AttachmentExpired(ZaloError):
    """-100: an uploaded attachment id is older than 7 days; upload again."""

    codes = (-100,)


class QuotaExceeded(ZaloError):
    """-211/-218: the OA's feature quota or the recipient's receive quota is used up."""

    codes = (-211, -218)


class NotFollower(ZaloError):
    """-213: the user does not follow the OA."""

    codes = (-213,)


class UserBlocked(ZaloError):
    """-217/-227/-244: the user blocked, restricted or is banned/inactive for this OA."""

    codes = (-217, -227, -244)


class OutsideWindow(ZaloError):
    """-230/-232: no interaction within 7 days, so no consultation message is allowed."""

    codes = (-230, -232)


class NightRestricted(ZaloError):
    """-234: this message type cannot be sent between 22:00 and 06:00."""

    codes = (-234,)


class GroupDisabled(ZaloError):
    """-237: the group is disabled (its GMF asset expired or was turned off)."""

    codes = (-237,)


class NotInGroup(ZaloError):
    """-403: the OA is not a member of that group."""

    codes = (-403,)


class ApiShutDown(ZaloError):
    """-240: the v2 message API no longer sends 1:1 content; use /v3.0/oa/message/*."""

    codes = (-240,)


class ContentRejected(ZaloError):
    """-248: the content violates platform standards."""

    codes = (-248,)


class AppMisconfigured(ZaloError):
    """OA/app state a human must fix in the Zalo console (disabled, unverified, not granted...)."""

    codes = (-204, -205, -209, -212, -219, -221, -223, -224, -242)


class OAuthError(ZaloError):
    """The OAuth v4 endpoint refused a code exchange or refresh (no access_token in the answer)."""


class TransientHTTPError(ZaloClientError):
    """A 5xx answer, a timeout or a connection failure: the call may be retried."""

    transient = True

    def __init__(
        self, reason: str, status: int | None = None, *, request_sent: bool = True
    ) -> None:
        super().__init__(reason if status is None else f"HTTP {status}: {reason}")
        self.status = status
        self.request_sent = (
            request_sent  # False only when no connection was made: certainly not processed
        )


class OutcomeUnknown(TransientHTTPError):
    """A send that may or may not have reached Zalo (timeout, lost answer, 5xx): never retried blindly.

    Zalo's send APIs take no idempotency key, so retrying could deliver twice; the caller settles it
    by reading the conversation back.
    """


class UnexpectedResponse(ZaloClientError):
    """An answer that is neither Zalo's JSON envelope nor a retryable failure (e.g. HTTP 404)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason if status is None else f"HTTP {status}: {reason}")
        self.status = status


class AuthorizationLost(ZaloClientError):
    """The refresh token was refused for good: an OA admin must grant the app again."""


_BY_CODE: dict[int, type[ZaloError]] = {
    code: cls
    for cls in (
        RateLimited,
        SendFailed,
        TokenInvalid,
        InvalidRequest,
        AttachmentExpired,
        QuotaExceeded,
        NotFollower,
        UserBlocked,
        OutsideWindow,
        NightRestricted,
        GroupDisabled,
        NotInGroup,
        ApiShutDown,
        ContentRejected,
        AppMisconfigured,
    )
    for code in cls.codes
}


def error_for(code: int, message: str) -> ZaloError:
    """Build the most specific error for a Zalo error code (unknown codes are permanent)."""
    return _BY_CODE.get(code, ZaloError)(code, message)
