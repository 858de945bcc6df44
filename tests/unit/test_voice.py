"""FAQ text in the commune's own words: its hamlet word, its head's title, "bà con"."""

from __future__ import annotations

from bot.chat.voice import in_commune_voice

CORPUS_TEXT = (
    "Kết quả được niêm yết ở nhà văn hóa thôn. Anh chị kiến nghị với trưởng thôn; "
    "hộ ở nông thôn đăng ký qua Tổ tiết kiệm và vay vốn ở thôn, bản. Thôn họp dân vào cuối năm."
)


def test_a_southern_commune_reads_ap_and_its_head() -> None:
    text = in_commune_voice(CORPUS_TEXT, "ấp")
    assert "nhà văn hóa ấp" in text and "trưởng ấp" in text and "ở ấp." in text
    assert "Ấp họp dân" in text  # a sentence's first word keeps its capital
    assert "Bà con kiến nghị" in text and "anh chị" not in text.lower()


def test_nong_thon_is_the_countryside_not_a_hamlet() -> None:
    assert "ở nông thôn" in in_commune_voice(CORPUS_TEXT, "ấp")


def test_a_northern_commune_keeps_thon_and_a_mountain_one_reads_ban() -> None:
    assert "trưởng thôn" in in_commune_voice(CORPUS_TEXT, "thôn")
    text = in_commune_voice(CORPUS_TEXT, "bản")
    assert (
        "trưởng bản" in text
        and "nhà văn hóa bản" in text
        and "thôn" not in text.replace("nông thôn", "")
    )


def test_ban_in_other_words_is_left_alone() -> None:
    # "văn bản", "cơ bản" are not hamlets; "ông bà" also means grandparents.
    text = "Anh/chị gửi văn bản; cha mẹ hoặc ông bà đang nuôi trẻ; chỉ số cơ bản."
    assert in_commune_voice(text, "ấp") == (
        "Bà con gửi văn bản; cha mẹ hoặc ông bà đang nuôi trẻ; chỉ số cơ bản."
    )


def test_a_town_reads_its_head_as_to_truong() -> None:
    assert "báo tổ trưởng" in in_commune_voice("Bà con báo trưởng thôn.", "tổ dân phố")


def test_the_corpus_lists_of_hamlet_words_become_the_communes_one_word() -> None:
    text = "Số điện thoại của trưởng thôn (ấp, bản, tổ trưởng tổ dân phố) được lập ở từng thôn, tổ dân phố."
    assert in_commune_voice(text, "ấp") == "Số điện thoại của trưởng ấp được lập ở từng ấp."
    assert in_commune_voice("Thôn, bản họp; anh chị em trong nhà.", "ấp") == (
        "Ấp họp; anh chị em trong nhà."
    )
