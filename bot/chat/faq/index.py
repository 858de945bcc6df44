"""A small BM25F index over folded and accented syllables and syllable bigrams."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bot.text import fold_word

# Prefix of terms in the accented view; folded terms carry no prefix.
ACCENTED = "~"

K1 = 1.2
# Field weights are counted in quarters: a weight of 1.5 counts a field's terms six times.
WEIGHT_UNIT = 0.25
B = 0.6

FloatArray = npt.NDArray[np.float32]


def view_terms(tokens: Sequence[str], prefix: str = "") -> list[str]:
    """Unigrams and adjacent bigrams of one view of a text."""
    unigrams = list(map(prefix.__add__, tokens)) if prefix else list(tokens)
    return unigrams + list(map(" ".join, itertools.pairwise(unigrams)))


def text_terms(accented: Sequence[str], with_accents: bool = True) -> list[str]:
    """Every term of a corpus text: folded (and accented) unigrams and bigrams."""
    folded = list(map(fold_word, accented))
    if not with_accents:
        return view_terms(folded)
    return view_terms(folded) + view_terms(accented, ACCENTED)


@dataclass(frozen=True)
class Field:
    """One field of a document: its terms and how much a match in it counts."""

    terms: Sequence[str]
    weight: float
    counts: Sequence[int] | None = None  # how often each term occurs, when not once each

    def occurrences(self) -> list[str]:
        """The terms, each as often as it occurs."""
        if self.counts is None:
            return list(self.terms)
        return [t for t, c in zip(self.terms, self.counts, strict=True) for _ in range(c)]

    def size(self) -> int:
        """How many term occurrences the field holds."""
        return len(self.terms) if self.counts is None else sum(self.counts)


@dataclass(frozen=True)
class TextField:
    """One field of a document given as texts of accented tokens, and which terms it makes."""

    texts: Sequence[Sequence[str]]
    weight: float
    bigrams: bool = True  # adjacent word pairs within each text
    accents: bool = True  # the accented view besides the folded one

    def terms(self) -> list[str]:
        """The field's terms as strings, as Field holds them."""
        out: list[str] = []
        for text in self.texts:
            folded = list(map(fold_word, text))
            out.extend(view_terms(folded) if self.bigrams else folded)
            if self.accents:
                out.extend(
                    view_terms(text, ACCENTED) if self.bigrams else map(ACCENTED.__add__, text)
                )
        return out


class _Vocab(dict[str, int]):
    """Term ids, handed out on first sight."""

    def __missing__(self, term: str) -> int:
        """Give a new term the next id."""
        tid = self[term] = len(self)
        return tid


def weighted_bag(fields: Sequence[Field]) -> list[str]:
    """A field's terms repeated by its weight in quarters, so one C-level count does the weighted sum."""
    bag: list[str] = []
    for field in fields:
        reps = max(1, round(field.weight / WEIGHT_UNIT))
        bag.extend(field.occurrences() * reps)
    return bag


def _stable_order(ids: npt.NDArray[np.int64], bound: int) -> npt.NDArray[np.intp]:
    """A stable argsort of non-negative ids below bound, by 16-bit radix passes where they fit."""
    if bound <= 1 << 16:
        return np.argsort(ids.astype(np.uint16), kind="stable")
    if bound <= 1 << 32:
        order = np.argsort((ids & 0xFFFF).astype(np.uint16), kind="stable")
        high = (ids[order] >> 16).astype(np.uint16)
        return order[np.argsort(high, kind="stable")]
    return np.argsort(ids, kind="stable")


def _grouped(
    keys: npt.NDArray[np.int64],
    where: npt.NDArray[np.int64],
    t_doc: npt.NDArray[np.int64],
    t_reps: npt.NDArray[np.float64],
    t_core: npt.NDArray[np.bool_],
    size: int,
    radix_bound: int | None,
) -> tuple[npt.NDArray[Any], ...]:
    """Sum term occurrences per (term key, document): keys, documents, full and core counts, lengths.

    keys[i] is a term occurring at token where[i]; occurrences with equal keys come in document order.
    """
    o_doc = t_doc[where]
    o_w = t_reps[where]
    o_wc = o_w * t_core[where]
    full_len = np.bincount(o_doc, weights=o_w, minlength=size).astype(np.float64)
    core_len = np.bincount(o_doc, weights=o_wc, minlength=size).astype(np.float64)
    if radix_bound is not None:
        order = _stable_order(keys, radix_bound)
    else:
        order = np.argsort(keys * max(size, 1) + o_doc)
    s_keys = keys[order]
    s_docs = o_doc[order]
    m = len(s_keys)
    new_run = np.ones(m, dtype=bool)
    if m:
        new_run[1:] = (s_keys[1:] != s_keys[:-1]) | (s_docs[1:] != s_docs[:-1])
    starts = np.flatnonzero(new_run)
    tf_full = np.add.reduceat(o_w[order], starts) if m else np.zeros(0)
    tf_core = np.add.reduceat(o_wc[order], starts) if m else np.zeros(0)
    return s_keys[starts], s_docs[starts], tf_full, tf_core, full_len, core_len


class Bm25Index:
    """Inverted index with precomputed BM25F term contributions per document."""

    def __init__(self, docs: Sequence[Sequence[Field]]) -> None:
        """Index documents made of weighted fields."""
        bags = [weighted_bag(fields) for fields in docs]
        self._load([Counter(bag) for bag in bags], [len(bag) for bag in bags])

    @classmethod
    def from_counts(cls, counts: Sequence[Mapping[str, int]], lengths: Sequence[int]) -> Bm25Index:
        """Index documents given as term counts and lengths, both in quarter-weight units."""
        index = cls.__new__(cls)
        index._load(counts, lengths)
        return index

    def _load(self, counts: Sequence[Mapping[str, int]], lengths_q: Sequence[int]) -> None:
        """Precompute every term's BM25F contribution to every document holding it."""
        self.size = len(counts)
        self.vocab: dict[str, int] = _Vocab()
        sizes = np.fromiter(map(len, counts), dtype=np.int64, count=self.size)
        tids = np.fromiter(
            map(self.vocab.__getitem__, itertools.chain.from_iterable(counts)), dtype=np.int64
        )
        dids = np.repeat(np.arange(self.size, dtype=np.int32), sizes)
        tfa = np.fromiter(
            itertools.chain.from_iterable(c.values() for c in counts),
            dtype=np.float64,
            count=len(tids),
        )
        tfa *= WEIGHT_UNIT
        lengths = np.asarray(lengths_q, dtype=np.float64) * WEIGHT_UNIT
        avg = float(lengths.mean()) if self.size else 1.0
        norm = K1 * (1 - B + B * lengths / max(avg, 1e-9))
        df = (
            np.bincount(tids, minlength=len(self.vocab))
            if len(tids)
            else np.zeros(0, dtype=np.int64)
        )
        self._df = df
        self.idf = np.log(1 + (self.size - df + 0.5) / (df + 0.5))
        weights = tfa * (K1 + 1) / (tfa + norm[dids]) * self.idf[tids] if len(tids) else tfa
        # Group by term; a stable sort keeps each term's documents in ascending order.
        order = np.argsort(tids, kind="stable")
        self._docs = dids[order]
        self._weights = weights[order].astype(np.float32)
        self._start = np.zeros(len(self.vocab) + 1, dtype=np.int64)
        np.cumsum(df, out=self._start[1:])
        self.max_idf = self.idf_of(0)

    @classmethod
    def _from_postings(
        cls,
        vocab: dict[str, int],
        tids: npt.NDArray[np.int64],
        dids: npt.NDArray[np.int64],
        tf_q: npt.NDArray[np.float64],
        lengths_q: npt.NDArray[np.float64],
    ) -> Bm25Index:
        """An index from postings sorted by term then document, counts and lengths in quarters."""
        index = cls.__new__(cls)
        index.size = len(lengths_q)
        index.vocab = vocab
        tfa = tf_q * WEIGHT_UNIT
        lengths = lengths_q * WEIGHT_UNIT
        avg = float(lengths.mean()) if index.size else 1.0
        norm = K1 * (1 - B + B * lengths / max(avg, 1e-9))
        df = np.bincount(tids, minlength=len(vocab))
        index._df = df
        index.idf = np.log(1 + (index.size - df + 0.5) / (df + 0.5))
        weights = tfa * (K1 + 1) / (tfa + norm[dids]) * index.idf[tids]
        index._docs = dids.astype(np.int32)
        index._weights = weights.astype(np.float32)
        index._start = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(df, out=index._start[1:])
        index.max_idf = index.idf_of(0)
        return index

    @classmethod
    def pair_from_texts(
        cls, docs: Sequence[Sequence[TextField]], core_fields: int
    ) -> tuple[Bm25Index, Bm25Index]:
        """Two indexes in one pass: over all fields, and over each document's first core_fields.

        Each distinct word gets an id once; folded words, accented words and their pairs become
        integer keys computed with numpy, so no term string is made per occurrence. Term strings
        are spelt out only once per distinct term, for the vocabulary queries look up.
        """
        size = len(docs)
        words: dict[str, int] = _Vocab()
        tokens: list[str] = []
        run_len: list[int] = []  # one run per text
        run_doc: list[int] = []
        run_reps: list[int] = []
        run_core: list[bool] = []
        run_bigrams: list[bool] = []
        run_accents: list[bool] = []
        for d, fields in enumerate(docs):
            for j, field in enumerate(fields):
                reps = max(1, round(field.weight / WEIGHT_UNIT))
                for text in field.texts:
                    if not text:
                        continue
                    tokens.extend(text)
                    run_len.append(len(text))
                    run_doc.append(d)
                    run_reps.append(reps)
                    run_core.append(j < core_fields)
                    run_bigrams.append(field.bigrams)
                    run_accents.append(field.accents)
        n = len(tokens)
        wids = np.fromiter(map(words.__getitem__, tokens), dtype=np.int64, count=n)
        spelt = list(words)
        folded_ids = [words[fold_word(w)] for w in spelt]  # may add folded words to the end
        n_words = max(len(words), 1)
        fold_of = np.arange(n_words, dtype=np.int64)
        fold_of[: len(folded_ids)] = folded_ids
        fids = fold_of[wids]

        lens = np.asarray(run_len, dtype=np.int64)
        t_doc = np.repeat(np.asarray(run_doc, dtype=np.int64), lens)
        t_reps = np.repeat(np.asarray(run_reps, dtype=np.float64), lens)
        t_core = np.repeat(np.asarray(run_core, dtype=bool), lens)
        t_acc = np.repeat(np.asarray(run_accents, dtype=bool), lens)
        # A token starts a pair when the next token is in the same text and the field takes pairs.
        pairs = np.repeat(np.asarray(run_bigrams, dtype=bool), lens)
        if n:
            pairs[np.cumsum(lens) - 1] = False
        first = np.flatnonzero(pairs)
        w2 = n_words * n_words
        # Key spaces, in this order: folded word, accented word, folded pair, accented pair.
        acc = np.flatnonzero(t_acc)
        acc_pairs = first[t_acc[first]]
        # Single words (most occurrences) have small keys and sort by 16-bit radix passes; pairs
        # are fewer. Within one key, occurrences are already in document order.
        singles = _grouped(
            np.concatenate((fids, n_words + wids[acc])),
            np.concatenate((np.arange(n), acc)),
            t_doc,
            t_reps,
            t_core,
            size,
            radix_bound=2 * n_words,
        )
        doubles = _grouped(
            np.concatenate(
                (
                    2 * n_words + fids[first] * n_words + fids[first + 1],
                    2 * n_words + w2 + wids[acc_pairs] * n_words + wids[acc_pairs + 1],
                )
            ),
            np.concatenate((first, acc_pairs)),
            t_doc,
            t_reps,
            t_core,
            size,
            radix_bound=None,
        )
        u_keys, u_docs, tf_full, tf_core = (
            np.concatenate((x, y)) for x, y in zip(singles[:4], doubles[:4], strict=True)
        )
        full_len = singles[4] + doubles[4]
        core_len = singles[5] + doubles[5]
        new_term = np.ones(len(u_keys), dtype=bool)
        new_term[1:] = u_keys[1:] != u_keys[:-1]
        term_keys = u_keys[new_term]
        u_tids = np.cumsum(new_term) - 1

        all_words = list(words)
        vocab: dict[str, int] = {}
        for tid, key in enumerate(term_keys.tolist()):
            if key < n_words:
                term = all_words[key]
            elif key < 2 * n_words:
                term = ACCENTED + all_words[key - n_words]
            elif key < 2 * n_words + w2:
                a, b = divmod(key - 2 * n_words, n_words)
                term = all_words[a] + " " + all_words[b]
            else:
                a, b = divmod(key - 2 * n_words - w2, n_words)
                term = ACCENTED + all_words[a] + " " + ACCENTED + all_words[b]
            vocab[term] = tid
        full = cls._from_postings(vocab, u_tids, u_docs, tf_full, full_len)
        keep = tf_core > 0
        core = cls._from_postings(vocab, u_tids[keep], u_docs[keep], tf_core[keep], core_len)
        return full, core

    def idf_of(self, df: int) -> float:
        """BM25 inverse document frequency of a term found in df documents."""
        return math.log(1 + (self.size - df + 0.5) / (df + 0.5))

    def word_frequencies(self) -> tuple[dict[str, int], list[tuple[str, int]]]:
        """Single words and how many documents hold each: folded ones, and accented ones."""
        folded: dict[str, int] = {}
        accented: list[tuple[str, int]] = []
        for term, tid in self.vocab.items():
            if " " in term:
                continue
            df = int(self._df[tid])
            if not df:
                continue
            if term.startswith(ACCENTED):
                accented.append((term[len(ACCENTED) :], df))
            else:
                folded[term] = df
        return folded, accented

    def contains(self, term: str, doc: int) -> bool:
        """Whether a document holds a term."""
        posting = self.posting(term)
        if posting is None:
            return False
        ids = posting[0]
        p = int(np.searchsorted(ids, doc))
        return p < len(ids) and int(ids[p]) == doc

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
        return 0.0 if tid is None or not self._df[tid] else float(self.idf[tid])

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

    def matched_mass(
        self, query: Mapping[str, float], docs: Sequence[int]
    ) -> list[tuple[float, float]]:
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
