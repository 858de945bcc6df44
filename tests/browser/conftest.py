"""Browser tests drive the Debian Chromium through Playwright (no browser download)."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from typing import Any

import pytest

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def chromium_path() -> str | None:
    """The Chromium binary: LOA_TEST_CHROMIUM, else Debian's /usr/bin/chromium."""
    path = os.environ.get("LOA_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    return path if os.path.exists(path) else None


@pytest.fixture
async def browser() -> AsyncIterator[Any]:
    """A headless Chromium, or a skip with how to get one (a failure under CI=true)."""
    path = chromium_path()
    if path is None:
        pytest.skip(
            "browser tests need Chromium: apt-get install chromium (or set LOA_TEST_CHROMIUM)"
        )
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        b = await p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()
