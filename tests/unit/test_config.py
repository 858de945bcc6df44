"""Settings: defaults, the sandbox switch, and every problem reported at once."""

from __future__ import annotations

import pytest

from bot.config import REAL_API_BASE, SANDBOX_APP_ID, ConfigError, Settings, async_url


def test_empty_environment_runs_the_sandbox_on_sqlite() -> None:
    s = Settings.from_env({})
    assert s.sandbox
    assert s.zalo_app_id == SANDBOX_APP_ID
    assert s.database_url == "sqlite:///loa.db"
    assert (s.host, s.port) == ("127.0.0.1", 8080)
    assert s.zalo_api_base == "http://127.0.0.1:8080"  # the sandbox is served by the same process
    assert s.seed_demo


def test_a_real_app_needs_all_its_keys_and_every_missing_one_is_listed() -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"ZALO_APP_ID": "123", "LOA_PORT": "eighty"})
    text = "\n".join(err.value.problems)
    for key in ("ZALO_APP_SECRET", "ZALO_OA_SECRET_KEY", "ZALO_OA_ID", "LOA_PORT"):
        assert key in text
    assert len(err.value.problems) == 4


def test_a_real_app_defaults_to_the_real_zalo_hosts() -> None:
    s = Settings.from_env(
        {
            "ZALO_APP_ID": "123",
            "ZALO_APP_SECRET": "a",
            "ZALO_OA_SECRET_KEY": "b",
            "ZALO_OA_ID": "456",
        }
    )
    assert not s.sandbox
    assert s.zalo_api_base == REAL_API_BASE
    assert not s.seed_demo


def test_invalid_values_are_reported_together() -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env(
            {
                "ZALO_APP_ID": "abc",
                "ZALO_APP_SECRET": "a",
                "ZALO_OA_SECRET_KEY": "b",
                "ZALO_OA_ID": "x1",
                "ZALO_API_BASE": "https://openapi.zalo.me/v3.0",
                "LOA_DATABASE_URL": "mysql://x",
                "LOA_PORT": "70000",
                "ZALO_RATE_PER_MINUTE": "1",  # nothing left once the limiter's burst is kept back
            }
        )
    keys = {p.split(":")[0] for p in err.value.problems}
    assert keys == {
        "ZALO_APP_ID",
        "ZALO_OA_ID",
        "ZALO_API_BASE",
        "LOA_DATABASE_URL",
        "LOA_PORT",
        "ZALO_RATE_PER_MINUTE",
    }


def test_every_problem_is_said_in_vietnamese_naming_the_variable_and_its_value() -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env(
            {
                "ZALO_APP_ID": "abc",
                "ZALO_OA_ID": "x1",
                "ZALO_API_BASE": "https://openapi.zalo.me/v3.0",
                "LOA_DATABASE_URL": "mysql://x",
                "LOA_PORT": "abc",
                "ZALO_RATE_PER_MINUTE": "1",
                "LOA_TRUSTED_PROXIES": "10.0.0.1, proxy",
                "LOA_SEED_DEMO": "maybe",
                "LOA_LOG_LEVEL": "loud",
            }
        )
    assert err.value.problems == [
        "LOA_PORT: phải là số cổng từ 1 đến 65535 (đang là “abc”)",
        "ZALO_RATE_PER_MINUTE: phải là số tin mỗi phút, từ 2 đến 1.000.000 (đang là “1”)",
        "LOA_TRUSTED_PROXIES: “proxy” không phải địa chỉ IP",
        "LOA_DATABASE_URL: phải là địa chỉ sqlite:///… hoặc postgresql://… (đang là “mysql://x”)",
        "LOA_SEED_DEMO: phải là 1 hoặc 0 (đang là “maybe”)",
        "LOA_LOG_LEVEL: phải là DEBUG, INFO, WARNING hoặc ERROR (đang là “LOUD”)",
        "ZALO_APP_ID: phải là mã số của ứng dụng trên trang Zalo for Developers, chỉ gồm chữ số "
        "(đang là “abc”)",
        "ZALO_APP_SECRET: chưa có; bắt buộc khi đã đặt ZALO_APP_ID",
        "ZALO_OA_SECRET_KEY: chưa có; bắt buộc khi đã đặt ZALO_APP_ID",
        "ZALO_OA_ID: phải là mã số của OA, chỉ gồm chữ số (đang là “x1”)",
        "ZALO_API_BASE: chỉ ghi giao thức và tên máy, ví dụ https://openapi.zalo.me "
        "(đang là “https://openapi.zalo.me/v3.0”)",
    ]


def test_a_number_out_of_range_names_the_range() -> None:
    with pytest.raises(ConfigError) as err:
        Settings.from_env({"LOA_PORT": "70000", "LOA_WEB_IDLE_MINUTES": "1"})
    assert err.value.problems == [
        "LOA_PORT: phải là số cổng từ 1 đến 65535 (đang là “70000”)",
        "LOA_WEB_IDLE_MINUTES: phải là số phút, từ 5 đến 10.080 (đang là “1”)",
    ]


def test_api_base_can_point_the_real_client_at_another_host() -> None:
    s = Settings.from_env(
        {
            "ZALO_APP_ID": "123",
            "ZALO_APP_SECRET": "a",
            "ZALO_OA_SECRET_KEY": "b",
            "ZALO_OA_ID": "456",
            "ZALO_API_BASE": "http://127.0.0.1:9999/",
            "ZALO_OAUTH_BASE": "http://127.0.0.1:9998",
        }
    )
    assert (s.zalo_api_base, s.zalo_oauth_base) == (
        "http://127.0.0.1:9999",
        "http://127.0.0.1:9998",
    )


def test_database_urls_get_async_drivers() -> None:
    assert async_url("sqlite:///loa.db") == "sqlite+aiosqlite:///loa.db"
    assert async_url("postgresql://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
    assert async_url("postgresql+asyncpg://u:p@h/db") == "postgresql+asyncpg://u:p@h/db"
