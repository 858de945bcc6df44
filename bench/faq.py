#!/usr/bin/env python3
"""Accuracy and latency of the FAQ matcher on the development questions and other question sets.

Usage: bench/faq.py [TSV ...] [--corpus FAQ_YAML] [--runs N] [--synthetic N]
Without TSV files it reads the shared dev questions, the frozen evaluation set
bench/data/frozen-eval.tsv and bench/data/paraphrases.tsv (see bench/data/README.md).
Prints a readable report and a per-topic error table per set, then exactly one JSON line with the
figures: the first set's figures under plain keys (top1, wrong_answer, ...), every further set's
under its file name ("frozen_eval_top1", "paraphrases_top1", ...). Latency is measured on the
first set.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
_VENV_PYTHON = REPO / ".venv" / "bin" / "python"
if _VENV_PYTHON.exists() and Path(sys.prefix).resolve() != _VENV_PYTHON.parent.parent.resolve():
    # Run under the project's virtualenv when started as bench/faq.py with a bare python3.
    os.execv(str(_VENV_PYTHON), [str(_VENV_PYTHON), __file__, *sys.argv[1:]])
sys.path.insert(0, str(REPO))
# Measured on one core (main() pins the process): BLAS threads sharing it would only contend.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from bot.chat.faq.loader import BUNDLED_FAQ, FaqItem, read_faq  # noqa: E402
from bot.chat.faq.matcher import Decision, FaqMatcher  # noqa: E402
from bot.chat.faq.normalize import analyze  # noqa: E402
from bot.chat.faq.semantic import (  # noqa: E402
    E5Embedder,
    answer_passage,
    clear_query_cache,
    default_embedder,
    entry_phrasings,
)

DEFAULT_DEV = REPO / ".." / "shared" / "faq" / "dev-questions.tsv"
DEFAULT_CORPUS = REPO / ".." / "shared" / "faq" / "poverty-faq.yaml"
# Written apart from the dev set and the matcher and never tuned on: the figure to report.
DEFAULT_FROZEN = REPO / "bench" / "data" / "frozen-eval.tsv"
DEFAULT_PARAPHRASES = REPO / "bench" / "data" / "paraphrases.tsv"

# Words mixed into synthetic entries so that 10,000 of them do not collapse into 69 distinct ones.
_FILLERS = (
    "ở thôn",
    "tại xã",
    "cho bà con",
    "năm nay",
    "theo quy định",
    "của huyện",
    "ở ấp",
    "vùng núi",
    "ven biển",
    "đồng bào dân tộc",
    "người cao tuổi",
    "phụ nữ",
    "thanh niên",
    "hộ neo đơn",
)
_PLACES = (
    "Tân Lập",
    "Hòa Bình",
    "Phú Lợi",
    "An Nhơn",
    "Vĩnh Long",
    "Sơn La",
    "Kon Tum",
    "Bạc Liêu",
)


def read_dev(path: Path) -> list[tuple[str, str]]:
    """Rows of (message, expected id or 'none') from the TSV file, header skipped."""
    rows: list[tuple[str, str]] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if n == 0 or not line.strip():
            continue
        text, expected = line.rsplit("\t", 1)
        rows.append((text, expected.strip()))
    return rows


def _vary(text: str, rng: random.Random) -> str:
    """Reword a question: drop or swap a few words, add a filler and a place."""
    words = text.rstrip("?").split()
    if len(words) > 4 and rng.random() < 0.5:
        del words[rng.randrange(len(words))]
    if len(words) > 3 and rng.random() < 0.5:
        i = rng.randrange(len(words) - 1)
        words[i], words[i + 1] = words[i + 1], words[i]
    words.insert(rng.randrange(len(words) + 1), rng.choice(_FILLERS))
    return " ".join(words) + f" ở {rng.choice(_PLACES)} {rng.randrange(1, 500)}?"


def synthetic_corpus(items: list[FaqItem], size: int, seed: int = 7) -> list[FaqItem]:
    """A corpus of `size` entries made from the real ones with varied wording."""
    rng = random.Random(seed)
    out = list(items)
    while len(out) < size:
        base = items[len(out) % len(items)]
        n = len(out)
        out.append(
            replace(
                base,
                id=f"{base.id}-{n}",
                questions=tuple(_vary(q, rng) for q in base.questions),
                keywords=tuple(f"{k} {rng.choice(_PLACES).lower()}" for k in base.keywords),
                answer=_vary(base.answer, rng),
            )
        )
    return out[:size]


def decide_all(matcher: FaqMatcher, rows: list[tuple[str, str]]) -> list[Decision]:
    """The matcher's decision on every message, in row order."""
    return [matcher.decide(text) for text, _ in rows]


def accuracy(rows: list[tuple[str, str]], decisions: list[Decision]) -> dict[str, float]:
    """Top-1, answered-right, clarify, wrong and fallback precision/recall, in percent."""
    answerable = [(t, e) for t, e in rows if e != "none"]
    out_of_scope = [(t, e) for t, e in rows if e == "none"]
    top1 = right = clarify = clarify_hit = wrong = fb_true = fb_false = 0
    for (_, expected), d in zip(rows, decisions, strict=True):
        ids = [a.id for a in d.alternatives]
        if expected == "none":
            fb_true += d.outcome == "fallback"
            continue
        top1 += bool(ids) and ids[0] == expected
        if d.outcome == "answer":
            right += d.entry_id == expected
            wrong += d.entry_id != expected
        elif d.outcome == "clarify":
            clarify += 1
            clarify_hit += expected in ids
        else:
            fb_false += 1
    fallbacks = fb_true + fb_false

    def pct(a: int, b: int) -> float:
        return round(100.0 * a / b, 1) if b else 0.0

    return {
        "top1": pct(top1, len(answerable)),
        "answered_right": pct(right, len(answerable)),
        "clarify": pct(clarify, len(answerable)),
        "clarify_has_right": pct(clarify_hit, clarify),
        "wrong_answer": pct(wrong, len(answerable)),
        "fallback_precision": pct(fb_true, fallbacks),
        "fallback_recall": pct(fb_true, len(out_of_scope)),
    }


@dataclass
class TopicErrors:
    """How the answerable messages of one topic fared, and the out-of-scope ones its entries took."""

    answerable: int = 0
    top1: int = 0
    wrong: int = 0  # answered with another entry
    clarify: int = 0  # asked to choose instead of answering
    fallback: int = 0  # handed to a person although the corpus holds the answer
    oos_answered: int = 0  # out-of-scope messages answered with one of this topic's entries

    def add(self, other: TopicErrors) -> None:
        """Add another topic's counts to this one."""
        self.answerable += other.answerable
        self.top1 += other.top1
        self.wrong += other.wrong
        self.clarify += other.clarify
        self.fallback += other.fallback
        self.oos_answered += other.oos_answered


@dataclass
class OutOfScopeErrors:
    """How the messages labelled 'none' fared."""

    messages: int = 0
    answered: int = 0  # answered with some entry: a wrong answer sent to a resident
    clarify: int = 0
    fallback: int = 0


def topic_errors(
    rows: list[tuple[str, str]], decisions: list[Decision], topic_of: dict[str, str]
) -> tuple[dict[str, TopicErrors], OutOfScopeErrors]:
    """Errors per topic of the expected entry (or of the wrongly given one, for 'none' rows)."""
    # Corpus order first, so that tables of different sets line up row by row.
    per_topic = {topic: TopicErrors() for topic in dict.fromkeys(topic_of.values())}
    oos = OutOfScopeErrors()
    for (_, expected), d in zip(rows, decisions, strict=True):
        if expected == "none":
            oos.messages += 1
            if d.outcome == "answer":
                oos.answered += 1
                given = topic_of.get(d.entry_id or "", "?")
                per_topic.setdefault(given, TopicErrors()).oos_answered += 1
            elif d.outcome == "clarify":
                oos.clarify += 1
            else:
                oos.fallback += 1
            continue
        # An id the corpus does not hold (a set written for another corpus) counts under "?".
        t = per_topic.setdefault(topic_of.get(expected, "?"), TopicErrors())
        t.answerable += 1
        t.top1 += bool(d.alternatives) and d.alternatives[0].id == expected
        if d.outcome == "answer":
            t.wrong += d.entry_id != expected
        elif d.outcome == "clarify":
            t.clarify += 1
        else:
            t.fallback += 1
    return per_topic, oos


def latency(matcher: FaqMatcher, texts: list[str], runs: int) -> tuple[float, float]:
    """Median over runs of the p50 and p99 time per message, in milliseconds."""
    p50s: list[float] = []
    p99s: list[float] = []
    for _ in range(runs):
        analyze.cache_clear()  # a fresh message is never cached
        clear_query_cache()
        times: list[float] = []
        for text in texts:
            start = time.perf_counter()
            matcher.decide(text)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        p50s.append(times[len(times) // 2])
        p99s.append(times[min(len(times) - 1, int(len(times) * 0.99))])
    return round(statistics.median(p50s), 3), round(statistics.median(p99s), 3)


class JitteredEmbedder:
    """Embeds synthetic entries' phrasings as their base entry's vectors plus a little noise.

    Embedding 10,000 entries' phrasings for real takes about an hour on one core; the vectors'
    number and shape, which is what query latency depends on, are the same either way. Messages
    are embedded for real. The cold build time is estimated from a sample embedded for real.
    """

    def __init__(self, real: E5Embedder, items: list[FaqItem], base: list[FaqItem]) -> None:
        self._real = real
        self._known: dict[str, object] = {}
        rng = np.random.default_rng(7)
        for syn, orig in zip(items, (base[n % len(base)] for n in range(len(items))), strict=True):
            texts = [*entry_phrasings(syn), answer_passage(syn)]
            origs = [*entry_phrasings(orig), answer_passage(orig)]
            vectors = real.passages(origs)
            for i, text in enumerate(texts):
                v = vectors[min(i, len(origs) - 1)] + rng.normal(0, 0.01, vectors.shape[1])
                self._known[text] = (v / np.linalg.norm(v)).astype(np.float32)

    def query(self, text: str) -> Any:
        """The real vector of a message."""
        return self._real.query(text)

    def passages(self, texts: Any) -> Any:
        """Jittered base vectors of synthetic phrasings."""
        return np.stack([self._known[t] for t in texts])


def _rss_mb() -> float:
    """Resident memory of this process, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _cold_embed_s(real: E5Embedder, items: list[FaqItem], sample: int = 40) -> float:
    """Seconds to embed every phrasing of these entries for real, from a timed sample."""
    texts = [t for item in items for t in (*entry_phrasings(item), answer_passage(item))]
    rng = random.Random(3)
    picked = rng.sample(texts, min(sample, len(texts)))
    start = time.perf_counter()
    real._model.passage(picked)  # type: ignore[attr-defined]
    per = (time.perf_counter() - start) / max(len(picked), 1)
    return per * len(texts)


def _report(name: str, path: Path, figures: dict[str, float | int]) -> None:
    """The readable accuracy lines of one question set."""
    print(f"{name}: {path} ({figures['messages']} messages, {figures['answerable']} answerable)")
    print(f"  top-1 on answerable        {figures['top1']:5.1f} %")
    print(f"  answered right             {figures['answered_right']:5.1f} %")
    print(
        f"  clarify                    {figures['clarify']:5.1f} %  (right entry among choices "
        f"{figures['clarify_has_right']:.1f} %)"
    )
    print(f"  wrong answers              {figures['wrong_answer']:5.1f} %")
    print(
        f"  fallback precision/recall  {figures['fallback_precision']:5.1f}"
        f" / {figures['fallback_recall']:.1f} %"
    )


def _topic_report(per_topic: dict[str, TopicErrors], oos: OutOfScopeErrors) -> None:
    """The per-topic error table of one question set."""
    print(
        f"  {'topic':<16}{'answerable':>11}{'top-1':>7}{'wrong':>7}{'clarify':>9}"
        f"{'fallback':>10}{'none answered here':>20}"
    )
    total = TopicErrors()
    for topic, t in per_topic.items():
        if not t.answerable and not t.oos_answered:
            continue
        print(
            f"  {topic:<16}{t.answerable:>11}{t.top1:>7}{t.wrong:>7}{t.clarify:>9}"
            f"{t.fallback:>10}{t.oos_answered:>20}"
        )
        total.add(t)
    print(
        f"  {'all':<16}{total.answerable:>11}{total.top1:>7}{total.wrong:>7}{total.clarify:>9}"
        f"{total.fallback:>10}{total.oos_answered:>20}"
    )
    print(
        f"  none: {oos.messages} messages, {oos.answered} answered wrongly, "
        f"{oos.clarify} clarified, {oos.fallback} fell back"
    )


def _set_names(paths: list[Path]) -> list[str]:
    """A distinct key prefix per question set, from its file name."""
    names: list[str] = []
    for path in paths:
        base = "".join(ch if ch.isalnum() else "_" for ch in path.stem.lower()).strip("_") or "set"
        name, n = base, 2
        while name in names:
            name, n = f"{base}{n}", n + 1
        names.append(name)
    return names


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", type=Path, metavar="TSV")
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--synthetic", type=int, default=10_000)
    args = parser.parse_args(argv)

    if hasattr(os, "sched_setaffinity"):
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[0]})
    corpus_path = args.corpus or (DEFAULT_CORPUS if DEFAULT_CORPUS.exists() else BUNDLED_FAQ)
    items = read_faq(corpus_path)
    defaults = (DEFAULT_DEV, DEFAULT_FROZEN, DEFAULT_PARAPHRASES)
    paths: list[Path] = args.sets or [p for p in defaults if p.exists()]
    if not paths:
        parser.error("no question set given and none found at the default paths")
    sets = [read_dev(p) for p in paths]
    topic_of = {item.id: item.topic for item in items}
    names = _set_names(paths)
    texts = [t for t, _ in sets[0]]

    rss_before = _rss_mb()
    start = time.perf_counter()
    matcher = FaqMatcher.build(items)
    build_ms = (time.perf_counter() - start) * 1000
    matcher.decide("hộ nghèo")  # the model's first call allocates its buffers
    rss_matcher = _rss_mb() - rss_before
    print(f"FAQ: {matcher.scorer}")
    per_set: list[dict[str, float | int]] = []
    tables: list[tuple[dict[str, TopicErrors], OutOfScopeErrors]] = []
    for rows in sets:
        decisions = decide_all(matcher, rows)
        fig: dict[str, float | int] = dict(accuracy(rows, decisions))
        fig["messages"] = len(rows)
        fig["answerable"] = sum(e != "none" for _, e in rows)
        per_set.append(fig)
        tables.append(topic_errors(rows, decisions, topic_of))
    p50, p99 = latency(matcher, texts, args.runs)

    big_items = synthetic_corpus(items, args.synthetic)
    real = default_embedder()
    jittered = JitteredEmbedder(real, big_items, items) if real is not None else None
    rss_before = _rss_mb()
    start = time.perf_counter()
    big = FaqMatcher.build(big_items, embedder=jittered)
    big_build_s = time.perf_counter() - start
    big_rss = _rss_mb() - rss_before
    cold_s = _cold_embed_s(real, big_items) if real is not None else 0.0
    big_p50, big_p99 = latency(big, texts, args.runs)

    figures: dict[str, float | int] = dict(per_set[0])
    figures.update(
        {
            "entries": len(items),
            "build_ms": round(build_ms, 1),
            "p50_ms": p50,
            "p99_ms": p99,
            "synthetic_entries": len(big_items),
            "synthetic_build_s": round(big_build_s, 2),
            "synthetic_p50_ms": big_p50,
            "synthetic_p99_ms": big_p99,
            "scorer": matcher.scorer,
            "matcher_rss_mb": round(rss_matcher, 1),
            "semantic_vectors_mb": round(matcher.semantic_bytes / 2**20, 2),
            "synthetic_rss_mb": round(big_rss, 1),
            "synthetic_semantic_vectors_mb": round(big.semantic_bytes / 2**20, 1),
            "synthetic_cold_embed_s": round(cold_s, 0),
        }
    )
    for name, fig in zip(names[1:], per_set[1:], strict=True):
        figures.update({f"{name}_{key}": value for key, value in fig.items()})
    print(f"corpus {corpus_path} ({len(items)} entries)")
    for name, path, fig, (per_topic, oos) in zip(names, paths, per_set, tables, strict=True):
        _report(name, path, fig)
        _topic_report(per_topic, oos)
    print(f"scorer: {matcher.scorer}")
    print(
        f"latency p50/p99 ({names[0]})  {p50:.3f} / {p99:.3f} ms  (build {build_ms:.1f} ms,"
        f" matcher memory {rss_matcher:.0f} MB, the e5 model's included when semantic)"
    )
    print(
        f"{len(big_items)} entries p50/p99   {big_p50:.3f} / {big_p99:.3f} ms  (build {big_build_s:.2f} s"
        f" from cached vectors, {big_rss:.0f} MB; embedding all phrasings cold ≈ {cold_s:.0f} s)"
    )
    print(json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
