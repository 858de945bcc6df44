"""A hamlet typed by a person: one rule for the chat, the command line and the importer."""

from __future__ import annotations

from bot.directory.hamlet_names import HamletNames
from bot.directory.models import Hamlet

HAMLETS = [
    Hamlet(id=1, commune_id=1, name="Ấp Tân Lập"),
    Hamlet(id=2, commune_id=1, name="Ấp Hòa Bình"),
    Hamlet(id=3, commune_id=1, name="Ấp 3"),
    Hamlet(id=4, commune_id=1, name="Thôn Hòa Bình"),  # the same name under another word
]
NAMES = HamletNames(HAMLETS)


def ids(found: list[Hamlet]) -> list[int]:
    return [h.id for h in found]


def test_a_name_is_found_with_or_without_diacritics_and_its_word() -> None:
    for typed in ("Ấp Tân Lập", "tân lập", "ap tan lap", "AP  TAN LAP", "Tan Lap", "thôn tân lập"):
        assert ids(NAMES.matches(typed)) == [1], typed


def test_numbers_read_the_same_with_leading_zeros() -> None:
    for typed in ("Ấp 3", "ap 03", "3", "Ap 3"):
        assert ids(NAMES.matches(typed)) == [3], typed


def test_a_name_that_fits_two_hamlets_is_ambiguous_not_guessed() -> None:
    assert ids(NAMES.matches("Hòa Bình")) == [2, 4]
    assert NAMES.find("hoa binh") is None
    assert ids(NAMES.matches("thôn hoà bình")) == [4]  # its word tells them apart


def test_an_unknown_name_matches_nothing() -> None:
    assert NAMES.matches("Ấp Không Có") == []
    assert NAMES.matches("") == []


def test_a_sentence_ending_with_a_full_name_names_that_hamlet() -> None:
    assert NAMES.ending("dạ em ở ấp Tân Lập") is HAMLETS[0]
    assert NAMES.ending("nhà tôi có 3") is None  # a number is not "Ấp 3" without its word
    assert NAMES.ending("em ở hòa bình") is None  # and a bare name ending a sentence is not enough
