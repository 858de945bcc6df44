"""PKCE verifier and S256 challenge, and the permission link."""

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

from bot.zalo.oauth import code_challenge, new_code_verifier, permission_url


def test_fixed_vector() -> None:
    # base64url_nopad(sha256(verifier)), worked out once by hand with hashlib and base64.
    verifier = "dBjftJeZ4CVP-mJ92IfHmkOHRE5Ot7CObiRX3Rx3Kio"
    assert code_challenge(verifier) == "x1e4ZV8QDJ5Xn0BqiAo67UsnfQ4NNprY3vgcE6j-t-4"


def test_verifier_is_43_chars_base64url_without_padding() -> None:
    verifier = new_code_verifier()
    assert len(verifier) == 43
    assert "=" not in verifier and "+" not in verifier and "/" not in verifier
    assert len(base64.urlsafe_b64decode(verifier + "=")) == 32
    assert new_code_verifier() != verifier


def test_challenge_is_hand_computed() -> None:
    verifier = new_code_verifier()
    digest = hashlib.sha256(verifier.encode()).digest()
    assert code_challenge(verifier) == base64.urlsafe_b64encode(digest).decode().rstrip("=")


def test_permission_url() -> None:
    url = permission_url("https://oauth.zaloapp.com/", "123", "https://x.vn/cb?a=1", "CH", "st")
    parts = urlsplit(url)
    assert parts.path == "/v4/oa/permission"
    query = parse_qs(parts.query)
    assert query == {
        "app_id": ["123"],
        "redirect_uri": ["https://x.vn/cb?a=1"],
        "code_challenge": ["CH"],
        "state": ["st"],
    }
