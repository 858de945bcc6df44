"""The Vietnamese normaliser: folding, teen code, regional words, particles."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.chat.faq.normalize import analyze
from bot.text import clean, fold, has_marks


def test_fold_removes_diacritics_and_d_bar() -> None:
    assert fold("Đăng ký HỘ NGHÈO, được không?") == "dang ky ho ngheo duoc khong"


def test_clean_splits_amounts_and_reads_thousands() -> None:
    assert clean("vay 5tr, phí 500k") == "vay 5 tr phí 500 nghìn"


def test_teen_code_and_abbreviations_expand() -> None:
    a = analyze("hok bik nha mk co phai can ngheo hok, dc ko")
    assert "khong" in a.folded
    assert "duoc" in a.folded
    assert "biet" in a.folded
    assert analyze("bhyt").folded == ("bao", "hiem", "y", "te")
    assert analyze("vay nhcsxh").folded[:4] == ("vay", "ngan", "hang", "chinh")


def test_regional_words_meet_their_standard_form() -> None:
    assert analyze("con heo bị dịch").folded == analyze("con lợn bị dịch").folded
    assert analyze("dọn vô Bình Dương").folded == analyze("dọn vào Bình Dương").folded
    assert analyze("má tôi").folded == analyze("mẹ tôi").folded


def test_accented_particle_vay_is_not_a_loan() -> None:
    a = analyze("thẻ bảo hiểm ai trả tiền vậy")
    assert a.marked
    assert "vậy" not in a.accented
    assert "vay" not in a.folded


def test_unaccented_closing_vay_after_a_question_word_is_dropped() -> None:
    assert analyze("chuan ngheo la bao nhieu vay").folded[-1] != "vay"
    # ...but a loan at the end of a question stays a loan.
    assert analyze("ho can ngheo co duoc vay").folded[-1] == "vay"


def test_accented_view_keeps_what_accents_distinguish() -> None:
    assert analyze("nhà tôi").accented[0] == "nhà"
    assert analyze("cô hỏi có được không").folded.count("co") >= 1
    assert not analyze("vay von").marked


def test_empty_and_greeting_only_messages_have_no_tokens() -> None:
    assert analyze("").folded == ()
    assert analyze("  ?!  ").folded == ()
    assert analyze("chào ad").folded == ()


@given(st.text())
def test_fold_is_ascii_and_idempotent(text: str) -> None:
    folded = fold(text)
    assert folded.isascii()
    assert fold(folded) == folded


@given(st.text())
def test_clean_is_idempotent(text: str) -> None:
    once = clean(text)
    assert clean(once) == once


@given(st.text())
def test_analyze_never_raises_and_views_align(text: str) -> None:
    a = analyze(text)
    assert len(a.folded) == len(a.accented)
    assert all(t.isascii() and t for t in a.folded)
    assert all(" " not in t for t in a.folded)
    assert a.marked == has_marks(clean(text))


@given(
    st.text(
        alphabet="aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ "
    )
)
def test_folded_analysis_of_folded_text_is_stable(text: str) -> None:
    folded = fold(text)
    assert analyze(folded).folded == analyze(fold(folded)).folded
