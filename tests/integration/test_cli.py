"""The `loa` command line as an admin uses it: bad config, FAQ import and match on a real database."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.service import REPO

BUNDLED = REPO / "bot" / "chat" / "faq" / "data" / "poverty-faq.yaml"


def loa(
    args: list[str], env: dict[str, str], stdin: str = "", cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ZALO_", "LOA_"))}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env={**base, "PYTHONPATH": str(REPO), **env},
        cwd=cwd,
        timeout=120,
    )


def test_bad_config_lists_every_problem_and_exits_non_zero(tmp_path: Path) -> None:
    result = loa(["db", "upgrade"], {"ZALO_APP_ID": "12345", "LOA_PORT": "http"}, cwd=tmp_path)
    assert result.returncode == 2
    for key in ("ZALO_APP_SECRET", "ZALO_OA_SECRET_KEY", "ZALO_OA_ID", "LOA_PORT"):
        assert key in result.stderr
    assert not (tmp_path / "loa.db").exists()


def test_bad_config_is_said_in_vietnamese(tmp_path: Path) -> None:
    result = loa(["db", "upgrade"], {"LOA_PORT": "abc"}, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "Cấu hình chưa đúng (sửa trong tệp .env hoặc biến môi trường, rồi chạy lại):",
        "  - LOA_PORT: phải là số cổng từ 1 đến 65535 (đang là “abc”)",
    ]


def test_serve_on_a_port_in_use_says_so_in_one_line_and_starts_nothing(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = loa(["serve"], {"LOA_PORT": str(port)}, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == (
        f"Cổng {port} trên 127.0.0.1 đang được dùng bởi chương trình khác; "
        "đặt LOA_PORT khác hoặc tắt chương trình kia.\n"
    )
    assert result.stdout == ""
    assert not (tmp_path / "loa.db").exists()  # not migrated, not seeded: nothing started


def test_faq_import_then_match_reads_the_configured_database(
    database_url: str, tmp_path: Path
) -> None:
    env = {"LOA_DATABASE_URL": database_url}
    imported = loa(["faq", "import", str(BUNDLED)], env, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    questions = "vay von ho ngheo lai suat bao nhieu\n\nMua sim số đẹp ở đâu vậy ad\n"
    matched = loa(["faq", "match"], env, stdin=questions, cwd=tmp_path)
    assert matched.returncode == 0, matched.stderr
    lines = [json.loads(line) for line in matched.stdout.splitlines()]
    assert [line["text"] for line in lines] == [
        "vay von ho ngheo lai suat bao nhieu",
        "Mua sim số đẹp ở đâu vậy ad",
    ]
    first, second = lines
    assert first["outcome"] in ("answer", "clarify") and 0 <= first["score"] <= 1
    if first["outcome"] == "answer":
        assert first["id"] == "vay-ho-ngheo"
    else:
        assert first["id"] is None and "vay-ho-ngheo" in [a["id"] for a in first["alternatives"]]
    assert second["outcome"] == "fallback" and second["id"] is None


def test_a_bad_faq_file_changes_nothing(database_url: str, tmp_path: Path) -> None:
    env = {"LOA_DATABASE_URL": database_url}
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        '- id: ok-entry\n  topic: bhyt\n  questions: ["a?"]\n  keywords: []\n  answer: x\n  source: y\n'
        "- id: broken\n  topic: bhyt\n  questions: []\n  keywords: []\n  source: y\n",
        encoding="utf-8",
    )
    result = loa(["faq", "import", str(bad)], env, cwd=tmp_path)
    assert result.returncode != 0
    assert "2" in (result.stdout + result.stderr)  # the bad entry is named by its position
    matched = loa(["faq", "match"], env, stdin="a?\n", cwd=tmp_path)
    assert json.loads(matched.stdout)["outcome"] == "fallback"  # nothing was imported
