"""Match a resident's message to a FAQ entry: answer, ask which one, or hand over to a person."""

from __future__ import annotations

import gc
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise, repeat
from typing import Literal

import numpy as np
import numpy.typing as npt

from bot.chat.faq.index import (
    ACCENTED,
    Bm25Index,
    FloatArray,
    TextField,
    view_terms,
)
from bot.chat.faq.loader import FaqItem
from bot.chat.faq.normalize import Analysis, analyze, tokens_of
from bot.chat.faq.spelling import Speller

Outcome = Literal["answer", "clarify", "fallback"]

# Field weights: residents' phrasings resemble the questions; keywords are short and pointed;
# the answer is long and only helps when a message describes rather than names.
W_QUESTIONS = 1.0
W_KEYWORDS = 1.5
W_ID = 1.0
W_ANSWER = 0.25
# How much the accented view adds when the resident typed diacritics.
W_ACCENTED = 0.6
CANDIDATES = 8
MAX_CHOICES = 3
# Confidence model (fitted as a logistic regression on resident-style messages, then rounded):
# answer only when sure enough, offer a choice when the runner-up is nearly as good.
CONF_CORE = 1.15
CONF_BIGRAM = 0.7
CONF_UNIGRAM = 1.65
CONF_BIAS = -6.45
ANSWER_MIN = 0.5
CHOICE_MIN = 0.4
CLOSE_RATIO = 0.92
# A message of a few words, all of them found in several entries' questions and keywords, names a
# topic or status rather than a question: offer the best of those entries unless one leads clearly.
VAGUE_MAX_WORDS = 4
VAGUE_POOL = 5
VAGUE_MARGIN = 1.5
OWNER_MIN = 0.15  # least confidence to answer a short message that one entry alone holds
# Folded words that ask rather than name a topic; a vague message needs at least one other word.
FUNCTION_WORDS: frozenset[str] = frozenset(
    [
        "ai",
        "bao",
        "gi",
        "sao",
        "nao",
        "dau",
        "khong",
        "co",
        "duoc",
        "lam",
        "the",
        "nhu",
        "roi",
        "chua",
        "may",
        "la",
        "thi",
        "ma",
        "va",
        "voi",
        "cho",
        "hoi",
        "muon",
        "biet",
        "nhieu",
        "it",
        "lam",
        "vay",
        "nay",
        "kia",
        "do",
        "day",
        "oi",
        "a",
        "u",
        "ha",
        "nhe",
        "nha",
        "thoi",
        "luon",
        "nua",
        "cung",
        "con",
        "dang",
        "se",
        "da",
    ]
)
# Names that move a message outside the commune's policies even when it borrows their words:
# a commercial bank's loan, a social network's password, a shop.
OUT_OF_SCOPE_CUES: frozenset[str] = frozenset(
    {
        "agribank",
        "vietcombank",
        "vietinbank",
        "bidv",
        "techcombank",
        "sacombank",
        "vpbank",
        "mbbank",
        "tpbank",
        "shb",
        "hdbank",
        "facebook",
        "fb",
        "face",
        "tiktok",
        "shopee",
        "lazada",
        "tiki",
        "instagram",
        "youtube",
        "gmail",
        "icloud",
        "garena",
        "game",
        "netflix",
    }
)
# Folded phrases that name things the commune's policies never cover, whatever words come with
# them: other products and services (life insurance from an agent, credit cards, instalments),
# buying and selling, prices of the day, weather, football, the lottery, medical emergencies,
# and accounts of other services. An entry that itself mentions the phrase keeps its chance.
OUT_OF_SCOPE_PHRASES: tuple[tuple[str, ...], ...] = (
    ("nhan", "tho"),
    ("dai", "ly"),
    ("the", "tin", "dung"),
    ("tra", "gop"),
    ("vay", "tin", "chap"),
    ("thanh", "ly"),
    ("ai", "mua"),
    ("can", "ban"),
    ("ship",),
    ("shop",),
    ("order",),
    ("dat", "nen"),
    ("cho", "thue"),
    ("nha", "tro"),
    ("gia", "vang"),
    ("gia", "lua"),
    ("gia", "lon"),
    ("gia", "xang"),
    ("gia", "phan"),
    ("thoi", "tiet"),
    ("du", "bao"),
    ("troi", "mua"),
    ("dat", "lien"),
    ("bong", "da"),
    ("da", "bong"),
    ("doi", "tuyen"),
    ("tran", "dau"),
    ("ty", "so"),
    ("xo", "so"),
    ("ve", "so"),
    ("vietlott",),
    ("lo", "de"),
    ("dot", "quy"),
    ("co", "giat"),
    ("sot", "cao"),
    ("cap", "cuu"),
    ("ngo", "doc"),
    ("kho", "tho"),
    ("chay", "mau"),
    ("cho", "can"),
    ("wifi",),
    ("mat", "khau", "zalo"),
    ("zalo", "bi", "khoa"),
    ("apple",),
    ("bao", "viet"),
    ("prudential",),
    ("manulife",),
    ("thi", "giay", "phep"),
    ("hoc", "giay", "phep"),
    ("quan", "su"),
    ("rut", "bao", "hiem"),
    ("xa", "hoi", "tu", "nguyen"),
    ("nguoi", "co", "cong"),
    ("acb",),
    ("vib",),
    ("seabank",),
    ("ocb",),
    ("msb",),
)
OUT_OF_SCOPE_PENALTY = 6.0
# An entry about another household status than the one the resident names (hộ nghèo / cận nghèo /
# mới thoát nghèo / mức sống trung bình) is a neighbour, not the answer.
STATUS_MISMATCH = 0.7
STATUS_SILENT = 0.9  # the entry names no status while the resident does
# A word that, among ids and keywords, belongs almost only to one topic (vay → vay-von) is a cue
# for that topic; entries of a cued topic get a small lift.
TOPIC_CUE_SHARE = 0.8
TOPIC_CUE_MIN = 3
TOPIC_BOOST = 1.12
POOR, NEAR, ESCAPED, AVERAGE = "poor", "near", "escaped", "average"
# Folded phrases that say a household left the poor list, told as a story rather than named.
_LEFT_LIST = (
    ("thoat",),
    ("het", "la"),
    ("het", "ho"),
    ("ra", "khoi"),
    ("khoi", "danh", "sach"),
    ("gach", "ten"),
    ("khong", "con", "la"),
    ("khong", "con", "ngheo"),
    ("khong", "con", "thuoc"),
    ("rut", "ten"),
    ("xoa", "ten"),
    ("het", "dien"),
    ("het", "thuoc"),
    ("duoc", "ra"),
)


@dataclass(frozen=True)
class Alternative:
    """A ranked entry and its score (0..1)."""

    id: str
    score: float


@dataclass(frozen=True)
class Decision:
    """What to do with a message: answer one entry, offer a choice, or hand to a person."""

    outcome: Outcome
    entry_id: str | None  # set only when outcome == "answer"
    score: float  # 0..1, the top entry's score
    alternatives: list[Alternative]  # ranked; for clarify: the 2–3 choices to offer


@lru_cache(maxsize=65536)
def _keyword_tokens(text: str) -> tuple[str, ...]:
    """Tokens of a keyword: keywords repeat across entries, so each is analysed once."""
    return tokens_of(text, True)


@lru_cache(maxsize=65536)
def _keyword_words(text: str) -> tuple[str, ...]:
    """Folded words of a keyword, as a message would be read."""
    return analyze(text).folded


def _entry_fields(item: FaqItem) -> list[TextField]:
    """The weighted fields an entry is indexed by."""
    slug = [w for w in item.id.split("-") if w]
    return [
        TextField([tokens_of(q, True) for q in item.questions], W_QUESTIONS),
        TextField([_keyword_tokens(k) for k in item.keywords], W_KEYWORDS),
        TextField([slug], W_ID, accents=False),
        # Answers are long: their single words are enough, and keep a large corpus quick to build.
        TextField([tokens_of(item.answer, True)], W_ANSWER, bigrams=False),
    ]


_NOT_A_STATUS = frozenset({("giam",), ("xoa",), ("chong",)})


def statuses(folded: Sequence[str]) -> frozenset[str]:
    """Household statuses a text names: each "nghèo" read with the words just before it."""
    found: set[str] = set()
    for i, tok in enumerate(folded):
        if tok == "trung" and i + 1 < len(folded) and folded[i + 1] == "binh":
            found.add(AVERAGE)
        if tok != "ngheo":
            continue
        before = tuple(folded[max(0, i - 6) : i])
        if before[-1:] in _NOT_A_STATUS:
            continue  # "giảm nghèo" is the programme, not a household
        # A household that left the list, told as a story: "năm rồi nhà em hết là hộ cận nghèo",
        # "được rút tên khỏi danh sách nghèo", "thoát cận nghèo".
        if any(_contains(before, cue) for cue in _LEFT_LIST):
            found.add(ESCAPED)
        elif before[-1:] == ("can",):
            found.add(NEAR)
        else:
            found.add(POOR)
    return frozenset(found)


def _ends_with(seq: tuple[str, ...], cue: tuple[str, ...]) -> bool:
    """Whether seq ends with cue."""
    return len(seq) >= len(cue) and seq[-len(cue) :] == cue


def _contains(seq: tuple[str, ...], cue: tuple[str, ...]) -> bool:
    """Whether cue occurs in seq."""
    n = len(cue)
    return any(seq[i : i + n] == cue for i in range(len(seq) - n + 1))


def _entry_statuses(item: FaqItem) -> frozenset[str]:
    """The statuses an entry is about: named by its id, else by its keywords (questions mention many)."""
    named = statuses(item.id.split("-"))
    if named:
        return named
    found: set[str] = set()
    for text in item.keywords:
        found |= _keyword_statuses(text)
    return frozenset(found)


@lru_cache(maxsize=65536)
def _keyword_statuses(text: str) -> frozenset[str]:
    """Household statuses a keyword names."""
    return statuses(_keyword_words(text))


def _topic_cues(items: Sequence[FaqItem]) -> dict[str, str]:
    """Folded words of ids and keywords that point to one topic."""
    pairs: Counter[tuple[str, str]] = Counter()
    for item in items:
        words = set(item.id.split("-"))
        for k in item.keywords:
            words.update(_keyword_words(k))
        pairs.update(zip(words, repeat(item.topic)))
    per_word: dict[str, dict[str, int]] = {}
    for (w, topic), n in pairs.items():
        per_word.setdefault(w, {})[topic] = n
    cues: dict[str, str] = {}
    for w, counts in per_word.items():
        topic, n = max(counts.items(), key=lambda kv: kv[1])
        if n >= TOPIC_CUE_MIN and n / sum(counts.values()) >= TOPIC_CUE_SHARE:
            cues[w] = topic
    return cues


def query_terms(text: str) -> dict[str, float]:
    """Weighted index terms of a message."""
    return _terms_of(analyze(text))


def _terms_of(a: Analysis) -> dict[str, float]:
    """Weighted index terms of an analysed message."""
    terms: dict[str, float] = {}
    for t in view_terms(a.folded):
        terms[t] = terms.get(t, 0.0) + 1.0
    if a.marked:
        for t in view_terms(a.accented, ACCENTED):
            terms[t] = terms.get(t, 0.0) + W_ACCENTED
    return terms


@dataclass(frozen=True)
class Candidate:
    """A ranked entry with what the decision looks at."""

    id: str
    rank_score: float  # BM25F over all fields, after status and topic cues
    confidence: float  # 0..1: how sure the message is about this entry at all
    doc: int = -1  # position of the entry in the index
    other_status: bool = False  # the entry is about another household status than the one named


class FaqMatcher:
    """Ranks FAQ entries for a message and decides what to do with it."""

    def __init__(self, items: Sequence[FaqItem], index: Bm25Index, core: Bm25Index) -> None:
        """Use build(); this only stores what build made."""
        self._items = list(items)
        self._by_id = {item.id: item for item in self._items}
        self._index = index
        self._core = core
        self._statuses = [_entry_statuses(item) for item in self._items]
        self._topic_cues = _topic_cues(self._items)
        self._topics = [item.topic for item in self._items]
        self._speller = Speller(*index.word_frequencies())

    @classmethod
    def build(cls, entries: Sequence[FaqItem]) -> FaqMatcher:
        """Index the entries."""
        # The core index leaves the answers out: answers share everyday words with any message,
        # so only questions, keywords and ids tell whether a message is about an entry at all.
        # Both indexes come from one pass: the full counts are the core counts plus the answer's.
        # Building makes millions of small objects and frees none: the cyclic collector would only
        # walk them again and again, so it waits until the index is built.
        collecting = gc.isenabled()
        gc.disable()
        try:
            return cls._build(entries)
        finally:
            if collecting:
                gc.enable()

    @classmethod
    def _build(cls, entries: Sequence[FaqItem]) -> FaqMatcher:
        """Index the entries (build() without the collector)."""
        full, core = Bm25Index.pair_from_texts(
            [_entry_fields(item) for item in entries], core_fields=3
        )
        return cls(entries, full, core)

    def entry(self, entry_id: str) -> FaqItem:
        """The entry with this id (KeyError if unknown)."""
        return self._by_id[entry_id]

    def analyze(self, text: str) -> Analysis:
        """A message's analysis, with words the corpus does not know corrected to ones it does."""
        a = analyze(text)
        fixes: dict[int, str] = {}
        for i, word in enumerate(a.folded):
            fixed = self._speller.correct(word)
            if fixed is not None:
                fixes[i] = fixed
        if not fixes:
            return a
        return Analysis(
            folded=tuple(fixes.get(i, w) for i, w in enumerate(a.folded)),
            accented=tuple(
                self._speller.accented(fixes[i]) if i in fixes else w
                for i, w in enumerate(a.accented)
            ),
            marked=a.marked,
        )

    def rank(self, text: str, limit: int = CANDIDATES) -> list[Candidate]:
        """The best entries for a message, best first."""
        a = self.analyze(text)
        terms = _terms_of(a)
        if not terms or not self._items:
            return []
        scores = self._index.scores(terms)
        folded = a.folded
        asked = statuses(folded)
        cued = {self._topic_cues[w] for w in folded if w in self._topic_cues}
        if asked or cued:
            # Only the leading candidates need the cues; the rest cannot overtake them after.
            pre = _top(scores, limit * 3)
            for i in pre:
                if self._topics[i] in cued:
                    scores[i] *= TOPIC_BOOST
                about = self._statuses[i]
                if not asked:
                    continue
                if not about:
                    scores[i] *= STATUS_SILENT
                elif not (about & asked):
                    scores[i] *= STATUS_MISMATCH
        top = [int(i) for i in _top(scores, limit) if scores[i] > 0]
        if not top:
            return []
        folded_terms = {t: w for t, w in terms.items() if not t.startswith(ACCENTED)}
        core_scores = self._core.scores_of(folded_terms, top)
        masses = self._core.matched_mass(folded_terms, top)
        foreign = _foreign_cues(folded)
        return [
            Candidate(
                self._items[i].id,
                float(scores[i]),
                _confidence(
                    core, bigram, unigram, self._core.max_idf, self._foreign_penalty(foreign, i)
                ),
                i,
                bool(asked and self._statuses[i] and not (self._statuses[i] & asked)),
            )
            for i, core, (bigram, unigram) in zip(top, core_scores, masses, strict=True)
        ]

    def _foreign_penalty(self, foreign: list[list[str]], doc: int) -> float:
        """Penalty for naming something outside the policies that the entry itself does not mention."""
        for cue_terms in foreign:
            if not all(self._index.contains(term, doc) for term in cue_terms):
                return OUT_OF_SCOPE_PENALTY
        return 0.0

    def decide(self, text: str) -> Decision:
        """Answer, clarify or fall back for one message."""
        ranked = self.rank(text)
        if not ranked:
            return Decision("fallback", None, 0.0, [])
        best = ranked[0]
        alts = [Alternative(c.id, round(c.confidence, 4)) for c in ranked[:3]]
        vague = self._vague_choices(text, ranked)
        if len(vague) > 1:
            return Decision("clarify", None, alts[0].score, [_alt(c) for c in vague])
        if vague and best.confidence < ANSWER_MIN:
            # A few words that one entry alone holds ("vssid là app gì"): that entry is meant.
            return Decision("answer", best.id, alts[0].score, alts)
        if best.confidence < ANSWER_MIN:
            return Decision("fallback", None, alts[0].score, alts)
        close = [
            c
            for c in ranked[1:MAX_CHOICES]
            if c.rank_score >= CLOSE_RATIO * best.rank_score and c.confidence >= CHOICE_MIN
        ]
        if close:
            return Decision("clarify", None, alts[0].score, [_alt(c) for c in (best, *close)])
        return Decision("answer", best.id, alts[0].score, alts)

    def _vague_choices(self, text: str, ranked: list[Candidate]) -> list[Candidate]:
        """Entries to offer for a short message that only names a topic or status ("bhyt", "hộ nghèo").

        Such a message is wholly contained in several entries' questions and keywords, and none of
        them stands out; the resident is better served by a choice than by a hand-over or a guess.
        When one entry alone holds all its words and leads, that entry alone is returned.
        """
        words = set(self.analyze(text).folded) - FUNCTION_WORDS
        if not words or len(words) > VAGUE_MAX_WORDS:
            return []
        covering = [
            c
            for c in ranked[:VAGUE_POOL]
            if not c.other_status
            and c.confidence > 0
            and c.rank_score > 0
            and all(self._core.contains(w, c.doc) for w in words)
        ]
        if not covering:
            return []
        if len(covering) == 1 or covering[0].rank_score >= VAGUE_MARGIN * covering[1].rank_score:
            # One entry clearly owns these words: it is the answer when it also leads the ranking.
            owner = covering[0]
            return [owner] if owner is ranked[0] and owner.confidence >= OWNER_MIN else []
        if covering[0].confidence >= ANSWER_MIN and covering[0] is not ranked[0]:
            return []
        return covering[:MAX_CHOICES]


def _alt(c: Candidate) -> Alternative:
    """The public view of a candidate."""
    return Alternative(c.id, round(c.confidence, 4))


def _foreign_cues(folded: Sequence[str]) -> list[list[str]]:
    """The out-of-scope names and phrases a message holds, each as the index terms that spell it:
    the word itself, or every pair of adjacent words of the phrase."""
    found = [[w] for w in folded if w in OUT_OF_SCOPE_CUES]
    seq = tuple(folded)
    for cue in OUT_OF_SCOPE_PHRASES:
        if _contains(seq, cue):
            found.append([" ".join(pair) for pair in pairwise(cue)] if len(cue) > 1 else [cue[0]])
    return found


def _top(scores: FloatArray, k: int) -> npt.NDArray[np.intp]:
    """Indices of the k highest scores, highest first (ties keep index order)."""
    k = min(k, len(scores))
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.lexsort((part, -scores[part]))]


def _confidence(
    core: float, bigram: float, unigram: float, max_idf: float, penalty: float
) -> float:
    """0..1: a logistic of the core score and the idf mass of matched words and word pairs."""
    logit = (
        CONF_CORE * math.log1p(core)
        + CONF_BIGRAM * bigram / max_idf
        + CONF_UNIGRAM * unigram / max_idf
        + CONF_BIAS
        - penalty
    )
    return 1.0 / (1.0 + math.exp(-logit))
