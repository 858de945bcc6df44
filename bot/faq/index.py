"""A small BM25F index over folded and accented syllables and syllable bigrams."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bot.faq.normalize import fold_word

# Prefix of terms in the accented view; folded terms carry no prefix.
ACCENTED = "~"

K1 = 1.2
# Field weights are counted in quarters: a weight of 1.5 counts a field's terms six times.
WEIGHT_UNIT = 0.25
B = 0.6

FloatArray = npt.NDArray[np.float32]


def view_terms(tokens: Sequence[str], prefix: str = "") -> list[str]:
    """Unigrams and adjacent bigrams of one view of a text."""
    if prefix:
        unigrams = [prefix + t for t in tokens]
        return unigrams + [a + " " + b for a, b in itertools.pairwise(unigrams)]
    return [*tokens, *(a + " " + b for a, b in itertools.pairwise(tokens))]


def text_terms(accented: Sequence[str], with_accents: bool = True) -> list[str]:
    """Every term of a corpus text: folded (and accented) unigrams and bigrams."""
    folded = [fold_word(t) for t in accented]
    if not with_accents:
        return view_terms(folded)
    return view_terms(folded) + view_terms(accented, ACCENTED)


@dataclass(frozen=True)
class Field:
    """One field of a document: its terms and how much a match in it counts."""

    terms: Sequence[str]
    weight: float


class _Vocab(dict[str, int]):
    """Term ids, handed out on first sight."""

    def __missing__(self, term: str) -> int:
        """Give a new term the next id."""
        tid = self[term] = len(self)
        return tid


class Bm25Index:
    """Inverted index with precomputed BM25F term contributions per document."""

    def __init__(self, docs: Sequence[Sequence[Field]]) -> None:
        """Index documents made of weighted fields."""
        self.size = len(docs)
        self.vocab: dict[str, int] = _Vocab()
        term_ids: list[int] = []
        doc_ids: list[int] = []
        freqs: list[float] = []
        lengths = np.zeros(self.size, dtype=np.float64)
        for i, fields in enumerate(docs):
            # Field weights become repetitions so one C-level count does the weighted sum.
            bag: list[str] = []
            for field in fields:
                reps = max(1, round(field.weight / WEIGHT_UNIT))
                bag.extend(list(field.terms) * reps if reps > 1 else field.terms)
                lengths[i] += reps * len(field.terms)
            tf = Counter(bag)
            term_ids.extend(map(self.vocab.__getitem__, tf))
            doc_ids.extend([i] * len(tf))
            freqs.extend(tf.values())
        tids = np.asarray(term_ids, dtype=np.int64)
        dids = np.asarray(doc_ids, dtype=np.int32)
        tfa = np.asarray(freqs, dtype=np.float64) * WEIGHT_UNIT
        lengths *= WEIGHT_UNIT
        avg = float(lengths.mean()) if self.size else 1.0
        norm = K1 * (1 - B + B * lengths / max(avg, 1e-9))
        df = np.bincount(tids, minlength=len(self.vocab)) if len(tids) else np.zeros(0, dtype=np.int64)
        self.idf = np.log(1 + (self.size - df + 0.5) / (df + 0.5))
        weights = tfa * (K1 + 1) / (tfa + norm[dids]) * self.idf[tids] if len(tids) else tfa
        # Group by term; a stable sort keeps each term's documents in ascending order.
        order = np.argsort(tids, kind="stable")
        self._docs = dids[order]
        self._weights = weights[order].astype(np.float32)
        self._start = np.zeros(len(self.vocab) + 1, dtype=np.int64)
        np.cumsum(df, out=self._start[1:])
        self.max_idf = self.idf_of(0)

    def idf_of(self, df: int) -> float:
        """BM25 inverse document frequency of a term found in df documents."""
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))

    def posting(self, term: str) -> tuple[npt.NDArray[np.int32], FloatArray] | None:
        """Documents holding a term (ascending) and the term's BM25F contribution to each."""
        tid = self.vocab.get(term)
        if tid is None:
            return None
        lo, hi = self._start[tid], self._start[tid + 1]
        return self._docs[lo:hi], self._weights[lo:hi]

    def idf_term(self, term: str) -> float:
        """The idf of a known term (0 for unknown ones)."""
        tid = self.vocab.get(term)
        return 0.0 if tid is None else float(self.idf[tid])

    def scores(self, query: Mapping[str, float]) -> FloatArray:
        """BM25F score of every document for weighted query terms."""
        out = np.zeros(self.size, dtype=np.float32)
        for term, weight in query.items():
            posting = self.posting(term)
            if posting is not None:
                ids, contrib = posting
                out[ids] += contrib * np.float32(weight)
        return out

    def ceiling(self, query: Mapping[str, float]) -> float:
        """The most a document could score on the query's known terms (for scaling to 0..1)."""
        return sum(w * self.idf_term(t) * (K1 + 1) for t, w in query.items())

    def scores_of(self, query: Mapping[str, float], docs: Sequence[int]) -> list[float]:
        """BM25F scores of a few documents only."""
        out = [0.0] * len(docs)
        for term, weight in query.items():
            posting = self.posting(term)
            if posting is None:
                continue
            ids, contrib = posting
            pos = np.searchsorted(ids, docs)
            for j, (p, d) in enumerate(zip(pos, docs, strict=True)):
                if p < len(ids) and ids[p] == d:
                    out[j] += float(contrib[p]) * weight
        return out

    def matched_mass(self, query: Mapping[str, float], docs: Sequence[int]) -> list[tuple[float, float]]:
        """For a few documents: idf summed over the query's word pairs and words each contains."""
        out = [[0.0, 0.0] for _ in docs]
        for term in query:
            posting = self.posting(term)
            if posting is None:
                continue
            ids = posting[0]
            idf = self.idf_term(term)
            slot = 0 if " " in term else 1
            pos = np.searchsorted(ids, docs)
            for j, (p, d) in enumerate(zip(pos, docs, strict=True)):
                if p < len(ids) and ids[p] == d:
                    out[j][slot] += idf
        return [(b, u) for b, u in out]
