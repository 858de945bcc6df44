"""The X-ZEvent-Signature check on webhook calls: plain SHA-256, not HMAC."""

from __future__ import annotations

import hashlib
import hmac

MAC_PREFIX = "mac="


def compute_mac(app_id: str, raw_body: bytes, timestamp: str, secret: str) -> str:
    """Return sha256(app_id + raw_body + timestamp + secret) as lowercase hex."""
    digest = hashlib.sha256()
    digest.update(app_id.encode())
    digest.update(raw_body)  # the exact received bytes: re-serialised JSON would not match
    digest.update(timestamp.encode())
    digest.update(secret.encode())
    return digest.hexdigest()


def verify_signature(
    header_value: str | None, app_id: str, raw_body: bytes, timestamp: str, secret: str
) -> bool:
    """Check a `mac=<hex>` header against the body in constant time; hex case does not matter."""
    if not header_value:
        return False
    value = header_value.strip()
    if not value.lower().startswith(MAC_PREFIX):
        return False
    received = value[len(MAC_PREFIX) :].strip().lower().encode("ascii", "replace")
    expected = compute_mac(app_id, raw_body, timestamp, secret).encode()
    return hmac.compare_digest(received, expected)
