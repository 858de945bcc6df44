"""A small async client for the Zalo Official Account Open API (library-like: imports nothing of ours)."""

from bot.zalo.client import SentMessage, ZaloClient
from bot.zalo.errors import (
    AuthorizationLost,
    TransientHTTPError,
    ZaloClientError,
    ZaloError,
    error_for,
)
from bot.zalo.limiter import RateLimiter
from bot.zalo.signature import compute_mac, verify_signature
from bot.zalo.tokens import TokenManager, TokenPair, TokenStore

__all__ = [
    "AuthorizationLost",
    "RateLimiter",
    "SentMessage",
    "TokenManager",
    "TokenPair",
    "TokenStore",
    "TransientHTTPError",
    "ZaloClient",
    "ZaloClientError",
    "ZaloError",
    "compute_mac",
    "error_for",
    "verify_signature",
]
