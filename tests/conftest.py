"""Test-wide guards and database fixtures."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from bot.db.engine import make_engine

POSTGRES_ENV = "LOA_TEST_POSTGRES_URL"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


# ------------------------------------------------------------------ no traffic beyond loopback


def _is_loopback(host: Any) -> bool:
    if not isinstance(host, str):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


class NetworkGuardError(AssertionError):
    """A test tried to reach something beyond this machine's loopback."""


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _check(sock: socket.socket, address: Any) -> None:
    if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
        raise NetworkGuardError(f"test tried to connect to {address!r}: only loopback is allowed")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _check(self, address)
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _check(self, address)
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host not in (None, "") and not _is_loopback(host if isinstance(host, str) else str(host)):
        raise NetworkGuardError(f"test tried to resolve {host!r}: only loopback is allowed")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def loopback_only() -> Iterator[None]:
    """Fail any test that tries to leave loopback."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo
    yield
    socket.socket.connect = _real_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _real_getaddrinfo


# ------------------------------------------------------------------------------- databases


def postgres_url() -> str | None:
    """The PostgreSQL test server, or None (then PostgreSQL tests skip, except in CI where they fail)."""
    url = os.environ.get(POSTGRES_ENV)
    if not url and IN_CI:
        pytest.fail(f"CI=true but {POSTGRES_ENV} is not set: PostgreSQL tests must run in CI")
    return url


async def reset_postgres(url: str) -> None:
    """Drop everything in the test database's public schema."""
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, migrated database: each test runs once on SQLite and once on PostgreSQL."""
    from bot.db.migrate import upgrade_async

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'loa.db'}"
    else:
        pg = postgres_url()
        if not pg:
            pytest.skip(
                f"PostgreSQL tests need {POSTGRES_ENV}=postgresql://user:pass@127.0.0.1:5432/db (see README)"
            )
        await reset_postgres(pg)
        url = pg
    await upgrade_async(url)
    yield url


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under CI=true, turn every skip into a failure: tests that need servers must run there."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true: {report.longrepr}"
