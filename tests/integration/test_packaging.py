"""`pip install .` as a user runs it: the wheel in a fresh venv, used from another folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import aiohttp
import pytest

from tests.service import REPO, eventually, free_port


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project's wheel installed in a new venv; its dependencies come from this venv, not the tree."""
    root = tmp_path_factory.mktemp("wheel")
    # Built from a copy without earlier build output, which setuptools would otherwise reuse.
    source = root / "source"
    junk = shutil.ignore_patterns(
        ".git", ".venv", "build", "*.egg-info", "__pycache__", ".*_cache", "*.db*"
    )
    shutil.copytree(REPO, source, symlinks=True, ignore=junk)
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(root / "dist"),
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = (root / "dist").glob("loa_ap-*.whl")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    # The dependencies are this venv's (no network needed); its editable `bot` is not: a .pth line
    # adds a directory to the path without running the editable finder that lives in it.
    (Path(site) / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr
    assert any(
        name.startswith("bot/templates/replies/") for name in zipfile.ZipFile(wheel).namelist()
    )
    return venv


def user_env(cwd: Path, **extra: str) -> dict[str, str]:
    """A user's environment: none of this tree's settings or paths, the database in their folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZALO_", "LOA_", "PYTHON"))}
    return {**env, "LOA_DATABASE_URL": f"sqlite:///{cwd / 'loa.db'}", **extra}


def loa(venv: Path, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(venv / "bin" / "loa"), *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=user_env(cwd),
        cwd=cwd,
        timeout=120,
    )


async def test_the_installed_wheel_serves_the_demo_and_renders_its_templates_from_another_folder(
    installed: Path, tmp_path: Path
) -> None:
    where = subprocess.run(
        [str(installed / "bin" / "python"), "-c", "import bot; print(bot.__file__)"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    ).stdout
    assert str(installed) in where and str(REPO) not in where  # the wheel's code, not the tree's

    # `loa serve` in sandbox mode migrates and seeds the demo commune, and serves the phone page.
    port = free_port()
    with open(tmp_path / "serve.log", "wb") as log:
        serve = subprocess.Popen(
            [str(installed / "bin" / "loa"), "serve"],
            cwd=tmp_path,
            env=user_env(tmp_path, LOA_PORT=str(port)),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        async def phone_page() -> str | None:
            assert serve.poll() is None, (tmp_path / "serve.log").read_text()[-3000:]
            try:
                async with (
                    aiohttp.ClientSession() as http,
                    http.get(f"http://127.0.0.1:{port}/sandbox/") as page,
                    http.get(f"http://127.0.0.1:{port}/sandbox/static/app.js") as js,
                ):
                    return await page.text() if page.status == js.status == 200 else None
            except aiohttp.ClientError:
                return None

        assert "<html" in await eventually(phone_page, timeout=60, what="loa serve from the wheel")
    finally:
        serve.terminate()
        serve.wait(timeout=30)

    listed = loa(installed, ["campaign", "templates"], tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "hop-thon" in listed.stdout and "canh-bao-lua-dao" in listed.stdout
    preview = loa(
        installed,
        [
            "campaign",
            "preview",
            "hop-thon",
            "--var",
            "date=thứ Sáu 18/12",
            "--var",
            "time=19h30",
            "--var",
            "place=nhà văn hoá",
            "--var",
            "agenda=bình xét hộ nghèo",
        ],
        tmp_path,
    )
    assert preview.returncode == 0, preview.stderr
    assert "bình xét hộ nghèo" in preview.stdout and "=====" in preview.stdout
