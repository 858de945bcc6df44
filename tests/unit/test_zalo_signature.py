"""X-ZEvent-Signature: sha256(app_id + raw body + timestamp + OA secret key)."""

import hashlib

from bot.zalo.signature import compute_mac, verify_signature

APP_ID = "1000000000000000001"
SECRET = "oa-secret"
BODY = b'{"app_id":"1000000000000000001","event_name":"user_send_text","timestamp":"1718000000000"}'
TS = "1718000000000"


def expected() -> str:
    return hashlib.sha256(APP_ID.encode() + BODY + TS.encode() + SECRET.encode()).hexdigest()


def test_compute_mac_matches_hand_computed_vector() -> None:
    assert compute_mac(APP_ID, BODY, TS, SECRET) == expected()


def test_known_fixed_vector() -> None:
    # sha256(b"a" + b"{}" + b"1" + b"s") computed independently.
    assert compute_mac("a", b"{}", "1", "s") == hashlib.sha256(b"a{}1s").hexdigest()


def test_valid_header_passes_in_any_hex_case() -> None:
    assert verify_signature(f"mac={expected()}", APP_ID, BODY, TS, SECRET)
    assert verify_signature(f"mac={expected().upper()}", APP_ID, BODY, TS, SECRET)


def test_wrong_inputs_fail() -> None:
    header = f"mac={expected()}"
    assert not verify_signature(header, APP_ID, BODY, TS, "other-secret")
    assert not verify_signature(header, APP_ID, BODY + b" ", TS, SECRET)
    assert not verify_signature(header, APP_ID, BODY, "1718000000001", SECRET)
    assert not verify_signature(header, "2000000000000000002", BODY, TS, SECRET)


def test_header_shape_is_enforced() -> None:
    assert not verify_signature(expected(), APP_ID, BODY, TS, SECRET)
    assert not verify_signature(None, APP_ID, BODY, TS, SECRET)
    assert not verify_signature("", APP_ID, BODY, TS, SECRET)
    assert not verify_signature("mac=", APP_ID, BODY, TS, SECRET)
    assert not verify_signature("mac=zzzé", APP_ID, BODY, TS, SECRET)


def test_body_is_hashed_as_received_bytes() -> None:
    utf8 = '{"text":"Khi nào họp thôn?"}'.encode()
    mac = hashlib.sha256(APP_ID.encode() + utf8 + TS.encode() + SECRET.encode()).hexdigest()
    assert verify_signature(f"mac={mac}", APP_ID, utf8, TS, SECRET)
