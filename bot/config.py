"""Settings read from the environment (and .env, loaded by the entry point)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

REAL_API_BASE = "https://openapi.zalo.me"
REAL_OAUTH_BASE = "https://oauth.zaloapp.com"

# Fixed credentials of the built-in sandbox; they mean nothing to the real Zalo.
SANDBOX_APP_ID = "1000000000000000001"
SANDBOX_APP_SECRET = "sandbox-app-secret"
SANDBOX_OA_SECRET_KEY = "sandbox-oa-secret-key"
SANDBOX_OA_ID = "2000000000000000002"

DEFAULT_DATABASE_URL = "sqlite:///loa.db"
# The top-level templates/, reached through the package (bot/templates links to it), so an installed
# wheel finds the copy it carries.
TEMPLATES_DIR = Path(__file__).parent / "templates"


class ConfigError(Exception):
    """Every problem found in the configuration, reported together."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    """The service's whole configuration; built once by the entry point."""

    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str = DEFAULT_DATABASE_URL
    public_url: str = ""
    zalo_app_id: str = ""
    zalo_app_secret: str = ""
    zalo_oa_secret_key: str = ""
    zalo_oa_id: str = ""
    zalo_access_token: str = ""
    zalo_refresh_token: str = ""
    zalo_api_base: str = REAL_API_BASE
    zalo_oauth_base: str = REAL_OAUTH_BASE
    zalo_rate_per_minute: int = 4000
    zalo_history_lag_seconds: int = 60
    handoff_hours: int = 24
    chat_retention_days: int = 180
    web_idle_minutes: int = 480
    trusted_proxies: frozenset[str] = frozenset()
    seed_demo: bool = False
    log_level: str = "INFO"
    templates_dir: Path = TEMPLATES_DIR

    @property
    def sandbox(self) -> bool:
        """True when no real Zalo app is configured: the built-in sandbox stands in."""
        return not self.zalo_app_id or self.zalo_app_id == SANDBOX_APP_ID

    @property
    def base_url(self) -> str:
        """Where this service is reached from outside (OAuth callback, links)."""
        return self.public_url or f"http://{self.host}:{self.port}"

    @property
    def async_database_url(self) -> str:
        """The database URL with the async driver SQLAlchemy needs."""
        return async_url(self.database_url)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from a mapping; raise ConfigError listing every problem (in Vietnamese:
        officials run the commands too), each naming its variable and the value it has."""
        problems: list[str] = []

        def get(key: str, default: str = "") -> str:
            return env.get(key, default).strip()

        def integer(key: str, default: int, low: int, high: int, wanted: str) -> int:
            raw = get(key)
            if not raw:
                return default
            try:
                value = int(raw)
            except ValueError:
                value = low - 1
            if not low <= value <= high:
                problems.append(f"{key}: phải là {wanted} (đang là “{raw}”)")
                return default
            return value

        def base(key: str, default: str) -> str:
            raw = get(key) or default
            parts = urlsplit(raw)
            if (
                parts.scheme not in ("http", "https")
                or not parts.netloc
                or parts.path not in ("", "/")
            ):
                problems.append(
                    f"{key}: chỉ ghi giao thức và tên máy, ví dụ https://openapi.zalo.me "
                    f"(đang là “{raw}”)"
                )
            return raw.rstrip("/")

        port = integer("LOA_PORT", 8080, 1, 65535, "số cổng từ 1 đến 65535")
        # At least 2: the limiter keeps its burst out of the minute, and 1 would leave nothing.
        rate = integer(
            "ZALO_RATE_PER_MINUTE", 4000, 2, 1_000_000, "số tin mỗi phút, từ 2 đến 1.000.000"
        )
        history_lag = integer("ZALO_HISTORY_LAG_SECONDS", 60, 1, 3600, "số giây, từ 1 đến 3.600")
        handoff_hours = integer("LOA_HANDOFF_HOURS", 24, 1, 24 * 30, "số giờ, từ 1 đến 720")
        retention = integer("LOA_CHAT_RETENTION_DAYS", 180, 1, 3650, "số ngày, từ 1 đến 3.650")
        web_idle = integer("LOA_WEB_IDLE_MINUTES", 480, 5, 7 * 24 * 60, "số phút, từ 5 đến 10.080")
        proxies = frozenset(a.strip() for a in get("LOA_TRUSTED_PROXIES").split(",") if a.strip())
        for address in sorted(proxies):
            try:
                ipaddress.ip_address(address)
            except ValueError:
                problems.append(f"LOA_TRUSTED_PROXIES: “{address}” không phải địa chỉ IP")
        database_url = get("LOA_DATABASE_URL") or DEFAULT_DATABASE_URL
        if urlsplit(database_url).scheme.split("+")[0] not in ("sqlite", "postgresql", "postgres"):
            problems.append(
                "LOA_DATABASE_URL: phải là địa chỉ sqlite:///… hoặc postgresql://… "
                f"(đang là “{database_url}”)"
            )
        public_url = get("LOA_PUBLIC_URL")
        if public_url:
            public_url = base("LOA_PUBLIC_URL", public_url)
        seed_raw = get("LOA_SEED_DEMO").lower()
        if seed_raw not in ("", "1", "0", "true", "false", "yes", "no"):
            problems.append(f"LOA_SEED_DEMO: phải là 1 hoặc 0 (đang là “{get('LOA_SEED_DEMO')}”)")
        log_level = (get("LOA_LOG_LEVEL") or "INFO").upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            problems.append(
                f"LOA_LOG_LEVEL: phải là DEBUG, INFO, WARNING hoặc ERROR (đang là “{log_level}”)"
            )

        app_id = get("ZALO_APP_ID")
        creds = {
            "ZALO_APP_SECRET": get("ZALO_APP_SECRET"),
            "ZALO_OA_SECRET_KEY": get("ZALO_OA_SECRET_KEY"),
            "ZALO_OA_ID": get("ZALO_OA_ID"),
        }
        if app_id:
            if not app_id.isdigit():
                problems.append(
                    "ZALO_APP_ID: phải là mã số của ứng dụng trên trang Zalo for Developers, "
                    f"chỉ gồm chữ số (đang là “{app_id}”)"
                )
            for key, value in creds.items():
                if not value:
                    problems.append(f"{key}: chưa có; bắt buộc khi đã đặt ZALO_APP_ID")
            oa_id = creds["ZALO_OA_ID"]
            if oa_id and not oa_id.isdigit():
                problems.append(
                    f"ZALO_OA_ID: phải là mã số của OA, chỉ gồm chữ số (đang là “{oa_id}”)"
                )
            api_default, oauth_default = REAL_API_BASE, REAL_OAUTH_BASE
        else:
            app_id = SANDBOX_APP_ID
            creds = {
                "ZALO_APP_SECRET": creds["ZALO_APP_SECRET"] or SANDBOX_APP_SECRET,
                "ZALO_OA_SECRET_KEY": creds["ZALO_OA_SECRET_KEY"] or SANDBOX_OA_SECRET_KEY,
                "ZALO_OA_ID": creds["ZALO_OA_ID"] or SANDBOX_OA_ID,
            }
            # The sandbox platform is served by this same process unless pointed elsewhere.
            api_default = oauth_default = f"http://{get('LOA_HOST') or '127.0.0.1'}:{port}"
        api_base = base("ZALO_API_BASE", api_default)
        oauth_base = base("ZALO_OAUTH_BASE", oauth_default)

        if problems:
            raise ConfigError(problems)
        return cls(
            host=get("LOA_HOST") or "127.0.0.1",
            port=port,
            database_url=database_url,
            public_url=public_url,
            zalo_app_id=app_id,
            zalo_app_secret=creds["ZALO_APP_SECRET"],
            zalo_oa_secret_key=creds["ZALO_OA_SECRET_KEY"],
            zalo_oa_id=creds["ZALO_OA_ID"],
            zalo_access_token=get("ZALO_ACCESS_TOKEN"),
            zalo_refresh_token=get("ZALO_REFRESH_TOKEN"),
            zalo_api_base=api_base,
            zalo_oauth_base=oauth_base,
            zalo_rate_per_minute=rate,
            zalo_history_lag_seconds=history_lag,
            handoff_hours=handoff_hours,
            chat_retention_days=retention,
            web_idle_minutes=web_idle,
            trusted_proxies=proxies,
            seed_demo=seed_raw in ("1", "true", "yes") if seed_raw else app_id == SANDBOX_APP_ID,
            log_level=log_level,
        )


def async_url(url: str) -> str:
    """Map plain sqlite:// and postgresql:// URLs onto their asyncio drivers."""
    scheme, sep, rest = url.partition("://")
    driver = {
        "sqlite": "sqlite+aiosqlite",
        "postgresql": "postgresql+asyncpg",
        "postgres": "postgresql+asyncpg",
    }
    return driver.get(scheme, scheme) + sep + rest
