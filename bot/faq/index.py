"""A small BM25F index over folded and accented syllables and syllable bigrams."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bot.faq.normalize import fold_word

# Prefix of terms in the accented view; folded terms carry no prefix.
ACCENTED = "~"

K1 = 1.2
B = 0.6

FloatArray = npt.NDArray[np.float32]


def view_terms(tokens: Sequence[str], prefix: str = "") -> Iterable[str]:
    """Unigrams and adjacent bigrams of one view of a text."""
    for tok in tokens:
        yield prefix + tok
    for left, right in itertools.pairwise(tokens):
        yield f"{prefix}{left} {right}"


def text_terms(accented: Sequence[str]) -> list[str]:
    """Every term of a corpus text: folded and accented unigrams and bigrams."""
    folded = [fold_word(t) for t in accented]
    return [*view_terms(folded), *view_terms(accented, ACCENTED)]


@dataclass(frozen=True)
class Field:
    """One field of a document: its terms and how much a match in it counts."""

    terms: Sequence[str]
    weight: float


class Bm25Index:
    """Inverted index with precomputed BM25F term contributions per document."""

    def __init__(self, docs: Sequence[Sequence[Field]]) -> None:
        """Index documents made of weighted fields."""
        self.size = len(docs)
        tfs: list[dict[str, float]] = []
        lengths = np.zeros(self.size, dtype=np.float64)
        for i, fields in enumerate(docs):
            tf: dict[str, float] = {}
            for field in fields:
                for term in field.terms:
                    tf[term] = tf.get(term, 0.0) + field.weight
                lengths[i] += field.weight * len(field.terms)
            tfs.append(tf)
        avg = float(lengths.mean()) if self.size else 1.0
        norm = K1 * (1 - B + B * lengths / max(avg, 1e-9))
        doc_ids: dict[str, list[int]] = {}
        weights: dict[str, list[float]] = {}
        for i, tf in enumerate(tfs):
            for term, f in tf.items():
                doc_ids.setdefault(term, []).append(i)
                weights.setdefault(term, []).append(f * (K1 + 1) / (f + norm[i]))
        self.idf: dict[str, float] = {}
        self.postings: dict[str, tuple[npt.NDArray[np.int32], FloatArray]] = {}
        for term, ids in doc_ids.items():
            idf = self.idf_of(len(ids))
            self.idf[term] = idf
            self.postings[term] = (
                np.asarray(ids, dtype=np.int32),
                np.asarray(weights[term], dtype=np.float32) * np.float32(idf),
            )
        self.max_idf = self.idf_of(0)

    def idf_of(self, df: int) -> float:
        """BM25 inverse document frequency of a term found in df documents."""
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))

    def scores(self, query: Mapping[str, float]) -> FloatArray:
        """BM25F score of every document for weighted query terms."""
        out = np.zeros(self.size, dtype=np.float32)
        for term, weight in query.items():
            posting = self.postings.get(term)
            if posting is not None:
                ids, contrib = posting
                out[ids] += contrib * np.float32(weight)
        return out

    def ceiling(self, query: Mapping[str, float]) -> float:
        """The most a document could score on the query's known terms (for scaling to 0..1)."""
        return sum(w * self.idf[t] * (K1 + 1) for t, w in query.items() if t in self.idf)

    def scores_of(self, query: Mapping[str, float], docs: Sequence[int]) -> list[float]:
        """BM25F scores of a few documents only."""
        out = [0.0] * len(docs)
        for term, weight in query.items():
            posting = self.postings.get(term)
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
            posting = self.postings.get(term)
            if posting is None:
                continue
            ids = posting[0]
            slot = 0 if " " in term else 1
            pos = np.searchsorted(ids, docs)
            for j, (p, d) in enumerate(zip(pos, docs, strict=True)):
                if p < len(ids) and ids[p] == d:
                    out[j][slot] += self.idf[term]
        return [(b, u) for b, u in out]
