"""The FAQ matcher on the bundled corpus: answers, choices and hand-overs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.chat.faq.loader import BUNDLED_FAQ, FaqItem, read_faq
from bot.chat.faq.matcher import Decision, FaqMatcher


@pytest.fixture(scope="module")
def matcher() -> FaqMatcher:
    return FaqMatcher.build(read_faq(BUNDLED_FAQ))


def _top(d: Decision) -> str:
    assert d.alternatives
    return d.alternatives[0].id


def test_accented_and_folded_queries_find_the_same_entry(matcher: FaqMatcher) -> None:
    accented = matcher.decide("Hộ cận nghèo có được hỗ trợ tiền điện không?")
    folded = matcher.decide("ho can ngheo co duoc ho tro tien dien khong")
    assert accented.outcome == folded.outcome == "answer"
    assert accented.entry_id == folded.entry_id == "tien-dien-ho-can-ngheo"


def test_teen_code_and_abbreviations(matcher: FaqMatcher) -> None:
    d = matcher.decide("ho can ngheo vay toi da dc bn z ad")
    assert d.outcome == "answer" and d.entry_id == "vay-ho-can-ngheo"
    d = matcher.decide("mat the bhyt kham bang cccd dc ko")
    assert _top(d) == "bhyt-mat-the-sai-thong-tin"


def test_neighbouring_statuses_are_told_apart(matcher: FaqMatcher) -> None:
    assert _top(matcher.decide("hộ nghèo vay vốn lãi suất bao nhiêu")) == "vay-ho-ngheo"
    assert _top(matcher.decide("hộ cận nghèo vay vốn lãi suất bao nhiêu")) == "vay-ho-can-ngheo"
    assert (
        _top(matcher.decide("nhà mới thoát nghèo vay vốn lãi suất bao nhiêu"))
        == "vay-ho-moi-thoat-ngheo"
    )


def test_regional_words(matcher: FaqMatcher) -> None:
    d = matcher.decide("heo bị dịch chết hết, có được hỗ trợ không")
    assert d.outcome == "answer" and d.entry_id == "thiet-hai-san-xuat"


def test_out_of_scope_falls_back(matcher: FaqMatcher) -> None:
    for text in ("giá vàng hôm nay bao nhiêu", "cho xin công thức nấu phở", "alo", "", "chào ad"):
        d = matcher.decide(text)
        assert d.outcome == "fallback", text
        assert d.entry_id is None


def test_borrowed_domain_words_fall_back(matcher: FaqMatcher) -> None:
    assert matcher.decide("Vay Agribank mua xe máy trả góp được không").outcome == "fallback"
    assert matcher.decide("quên mật khẩu facebook lấy lại sao").outcome == "fallback"


def test_scores_are_between_zero_and_one(matcher: FaqMatcher) -> None:
    for text in ("hộ nghèo được hưởng gì", "xổ số", "vneid", "a b c"):
        d = matcher.decide(text)
        assert 0.0 <= d.score <= 1.0
        assert all(0.0 <= a.score <= 1.0 for a in d.alternatives)
        assert (d.entry_id is not None) == (d.outcome == "answer")


def test_close_neighbours_ask_which_one() -> None:
    items = read_faq(BUNDLED_FAQ)
    base = next(item for item in items if item.id == "tien-dien-ho-can-ngheo")
    # The same questions, keywords and answer: nothing tells the two apart.
    twin = replace(base, id="tien-dien-ho-can-ngheo-mien-nui")
    d = FaqMatcher.build([*items, twin]).decide("hộ cận nghèo có được hỗ trợ tiền điện không")
    assert d.outcome == "clarify"
    assert d.entry_id is None
    assert {a.id for a in d.alternatives[:2]} == {base.id, twin.id}
    assert 2 <= len(d.alternatives) <= 3


def test_a_bank_the_entry_names_is_not_out_of_scope() -> None:
    items = read_faq(BUNDLED_FAQ)
    extra = FaqItem(
        "vay-agribank",
        "vay-von",
        ("Vay Agribank mua xe máy trả góp được không?",),
        ("agribank",),
        "A",
        "S",
    )
    d = FaqMatcher.build([*items, extra]).decide("vay agribank mua xe may tra gop")
    assert d.outcome == "answer" and d.entry_id == "vay-agribank"


def test_entry_lookup(matcher: FaqMatcher) -> None:
    assert matcher.entry("vay-ho-ngheo").topic == "vay-von"
    with pytest.raises(KeyError):
        matcher.entry("khong-co")


def test_empty_corpus_always_falls_back() -> None:
    d = FaqMatcher.build([]).decide("hộ nghèo vay vốn")
    assert d.outcome == "fallback" and d.alternatives == []
