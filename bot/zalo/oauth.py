"""OAuth v4 for Official Accounts: PKCE, the permission link, code exchange and refresh."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp

from bot.zalo.errors import OAuthError, TransientHTTPError, UnexpectedResponse
from bot.zalo.tokens import TokenPair


def _b64url_nopad(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def new_code_verifier() -> str:
    """Return a PKCE verifier: 32 random bytes as base64url without padding (43 chars)."""
    return _b64url_nopad(secrets.token_bytes(32))


def code_challenge(verifier: str) -> str:
    """Return the S256 challenge: base64url without padding of SHA-256(verifier)."""
    return _b64url_nopad(hashlib.sha256(verifier.encode("ascii")).digest())


def new_state() -> str:
    """Return an unguessable value to bind the OAuth callback to the browser that started it."""
    return secrets.token_urlsafe(24)


def permission_url(
    oauth_base: str, app_id: str, redirect_uri: str, code_challenge: str, state: str
) -> str:
    """Build the link an OA admin opens to grant the app (no code_challenge_method is sent)."""
    query = urlencode(
        {
            "app_id": app_id,
            "redirect_uri": redirect_uri,
            "code_challenge": code_challenge,
            "state": state,
        }
    )
    return f"{oauth_base.rstrip('/')}/v4/oa/permission?{query}"


async def exchange_code(
    http: aiohttp.ClientSession,
    oauth_base: str,
    app_id: str,
    app_secret: str,
    code: str,
    verifier: str,
    *,
    now: Callable[[], datetime] | None = None,
    timeout_s: float = 15.0,
) -> TokenPair:
    """Trade an authorization code (and its PKCE verifier) for the first token pair."""
    form = {
        "code": code,
        "app_id": app_id,
        "grant_type": "authorization_code",
        "code_verifier": verifier,
    }
    return await _token_call(http, oauth_base, app_secret, form, now, timeout_s)


async def refresh_tokens(
    http: aiohttp.ClientSession,
    oauth_base: str,
    app_id: str,
    app_secret: str,
    refresh_token: str,
    *,
    now: Callable[[], datetime] | None = None,
    timeout_s: float = 15.0,
) -> TokenPair:
    """Use the single-use refresh token to get a new pair; the old pair dies on success."""
    form = {"refresh_token": refresh_token, "app_id": app_id, "grant_type": "refresh_token"}
    return await _token_call(http, oauth_base, app_secret, form, now, timeout_s)


async def _token_call(
    http: aiohttp.ClientSession,
    oauth_base: str,
    app_secret: str,
    form: dict[str, str],
    now: Callable[[], datetime] | None,
    timeout_s: float,
) -> TokenPair:
    url = f"{oauth_base.rstrip('/')}/v4/oa/access_token"
    started = (now or (lambda: datetime.now(UTC)))()
    try:
        async with http.post(
            url,
            data=form,  # aiohttp sends a dict as application/x-www-form-urlencoded
            headers={"secret_key": app_secret},
            timeout=aiohttp.ClientTimeout(total=timeout_s),
        ) as response:
            if response.status >= 500:
                raise TransientHTTPError(await response.text(), response.status)
            try:
                body: Any = await response.json(content_type=None)
            except ValueError as exc:
                raise UnexpectedResponse(
                    "token endpoint answered without JSON", response.status
                ) from exc
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise TransientHTTPError(f"token endpoint unreachable: {exc!r}") from exc
    if not isinstance(body, dict) or not body.get("access_token"):
        code = int(body.get("error", -1)) if isinstance(body, dict) else -1
        message = (
            str(body.get("message") or body.get("error_name") or "")
            if isinstance(body, dict)
            else ""
        )
        raise OAuthError(code, message or "no access_token in the answer")
    # expires_in is a string of seconds ("90000"); time it from when we asked, to be safe.
    expires_in = int(body.get("expires_in") or 90000)
    return TokenPair(
        access_token=str(body["access_token"]),
        refresh_token=str(body.get("refresh_token") or ""),
        expires_at=started + timedelta(seconds=expires_in),
    )
