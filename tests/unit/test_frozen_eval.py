"""Guards on the frozen FAQ evaluation set: its shape, its labels, and that nobody edits it."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import pytest

from bot.chat.faq.loader import BUNDLED_FAQ, read_faq

FROZEN = Path(__file__).resolve().parents[2] / "bench" / "data" / "frozen-eval.tsv"
# The set reports the matcher's accuracy only if it was never shaped by the matcher. Edits made
# after tuning would leak the tuning into it, so the file is pinned byte for byte.
FROZEN_SHA256 = "9eefdf3101e4e643a833381ceffddb94ede2c7d797d566eaec775bb41ea34c3b"
HEADER = "question\texpected_id"


@pytest.fixture(scope="module")
def rows() -> list[tuple[str, str]]:
    lines = FROZEN.read_text(encoding="utf-8").splitlines()
    assert lines[0] == HEADER
    out: list[tuple[str, str]] = []
    for n, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        assert len(fields) == 2, f"line {n}: expected one tab, got {len(fields) - 1}"
        text, expected = fields
        assert text.strip() and text == text.strip(), f"line {n}: empty or padded message"
        assert expected.strip() == expected and expected, f"line {n}: bad expected id"
        out.append((text, expected))
    return out


def test_file_is_frozen() -> None:
    digest = hashlib.sha256(FROZEN.read_bytes()).hexdigest()
    assert digest == FROZEN_SHA256, (
        f"{FROZEN.name} changed (sha256 {digest}). The frozen evaluation set must not be edited, "
        "least of all for tuning: tune on the dev set and on cross-validation folds of the corpus, "
        "and report this set as it is. A new set goes into a new file with its own pinned hash."
    )


def test_size_and_out_of_scope_share(rows: list[tuple[str, str]]) -> None:
    assert len(rows) >= 400
    assert sum(e == "none" for _, e in rows) >= 80


def test_labels_are_corpus_ids_and_every_entry_is_covered(rows: list[tuple[str, str]]) -> None:
    ids = {item.id for item in read_faq(BUNDLED_FAQ)}
    unknown = sorted({e for _, e in rows if e != "none" and e not in ids})
    assert not unknown, f"expected ids not in the bundled corpus: {unknown}"
    counts = Counter(e for _, e in rows)
    thin = sorted(i for i in ids if counts[i] < 4)
    assert not thin, f"entries asked fewer than 4 times: {thin}"


def test_no_duplicate_messages(rows: list[tuple[str, str]]) -> None:
    # Case and spacing do not make a message new.
    seen = Counter(" ".join(t.casefold().split()) for t, _ in rows)
    dupes = sorted(t for t, n in seen.items() if n > 1)
    assert not dupes, f"duplicate messages: {dupes}"
