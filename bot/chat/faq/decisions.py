"""The fitted models the semantic matcher ranks and decides with (data/decisions.json).

`bench/fit_decisions.py` fits them by cross-validation on the corpus, the dev questions, the
paraphrases and the out-of-scope training sentences, and writes the JSON file; nothing here is set
by hand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

DECISIONS_FILE = Path(__file__).resolve().parent / "data" / "decisions.json"

# What the ranker reads of each candidate entry.
RANK_FEATURES = (
    "lexical_share",  # BM25F score over the best one's
    "lexical_confidence",  # 0..1 from the words the message shares with questions and keywords
    "lexical_log",  # log(1 + BM25F)
    "semantic_gap",  # cosine to the entry's nearest phrasing, minus the best entry's
    "semantic",  # that cosine
    "answer_gap",  # cosine to the entry's answer opening, minus the best entry's
    "answer",  # that cosine
)
# What the decision reads of the ranking.
DECISION_FEATURES = (
    "fused",  # the top entry's ranker score
    "fused_margin",  # its lead over the runner-up
    "lexical_confidence",  # the top entry's
    "semantic",  # the top entry's cosine
    "semantic_best",  # the best cosine of any entry
    "answer",  # the top entry's answer cosine
    "in_domain",  # the out-of-domain detector's logit: corpus-like (+) or not (-)
)


@dataclass(frozen=True)
class Linear:
    """A linear score w·x + b."""

    weights: npt.NDArray[np.float64]
    bias: float

    def __call__(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """The score of each row of x (or of the one vector x)."""
        return np.asarray(x @ self.weights + self.bias, dtype=np.float64)

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {"weights": [round(float(w), 6) for w in self.weights], "bias": round(self.bias, 6)}

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> Linear:
        """Read the JSON form."""
        return cls(np.asarray(raw["weights"], dtype=np.float64), float(raw["bias"]))


@dataclass(frozen=True)
class DecisionModel:
    """Ranker, decision and out-of-domain detector, with the thresholds chosen on held-out data."""

    rank: Linear  # over RANK_FEATURES
    decide: Linear  # logit of "the top entry is the answer", over DECISION_FEATURES
    in_domain: Linear  # over the message's embedding
    answer_min: float  # probability from which the top entry is sent as the answer
    clarify_min: float  # probability from which the top entries are offered as a choice
    clarify_gap: float  # ranker points behind the top within which an entry is offered too

    def to_json(self) -> dict[str, Any]:
        """The JSON form."""
        return {
            "rank_features": list(RANK_FEATURES),
            "rank": self.rank.to_json(),
            "decision_features": list(DECISION_FEATURES),
            "decide": self.decide.to_json(),
            "in_domain": self.in_domain.to_json(),
            "answer_min": round(self.answer_min, 4),
            "clarify_min": round(self.clarify_min, 4),
            "clarify_gap": round(self.clarify_gap, 4),
        }

    @classmethod
    def from_json(cls, raw: dict[str, Any]) -> DecisionModel:
        """Read the JSON form; features must be the ones this code computes, in its order."""
        if tuple(raw["rank_features"]) != RANK_FEATURES or (
            tuple(raw["decision_features"]) != DECISION_FEATURES
        ):
            raise ValueError(
                "decisions.json was fitted on other features: run bench/fit_decisions.py"
            )
        return cls(
            Linear.from_json(raw["rank"]),
            Linear.from_json(raw["decide"]),
            Linear.from_json(raw["in_domain"]),
            float(raw["answer_min"]),
            float(raw["clarify_min"]),
            float(raw["clarify_gap"]),
        )


def load_model(path: Path = DECISIONS_FILE) -> DecisionModel | None:
    """The fitted model, or None before one was fitted."""
    if not path.exists():
        return None
    return DecisionModel.from_json(json.loads(path.read_text(encoding="utf-8")))
