"""Which sentence of a cited unit to quote: a linear score over a few sentence features.

The composer quotes one or two sentences per cited unit, and citation accuracy is measured on
those quotes, not on the unit: "EU004" cited with its heading does not answer "when must the
kit come back?", its paragraph 1 ("reimported within a period of 120 days") does. The weights
were set by hand at first (`HAND`); `python -m evals.tune --quotes-only` learns them by
cross-validation on the dev set's gold evidence (`evals/quote_training.py`) and stores them in
the `quotes` section of assistant/fusion.json. Never per question.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

# One value per candidate sentence, in this order (see `extractive.sentence_features`).
QUOTE_FEATURES: tuple[str, ...] = (
    "overlap",      # share of the question's idf-weighted terms the sentence has
    "paragraph",    # retrieval's score of the sentence's paragraph against the unit's best
    "opening",      # the unit's first candidate sentence: states its rule or names its items
    "fragment",     # starts mid-structure ("(iii) the …", "does not …")
    "exclusion",    # an exclusion ("does not control …") on something the question is about
    "heading",      # only a heading
    "defines",      # defines the term the question asks about
    "duration",     # states a period when the question asks how long / by when
    "terms",        # how many distinct question terms it shares (capped at 5, / 5)
    "chunk_start",  # the first sentence of its paragraph
    "list_intro",   # ends with a colon: introduces items
    "length",       # log(1 + words) / 5
    "number",       # holds a figure (an amount, a period, a percentage)
    "entry_opening",  # the opening sentence of a control-list entry: what the entry controls
    "rule",         # states a rule: what needs a licence, is authorised, exempt or prohibited
    "licence_rule",  # states a rule, and the question asks whether a licence is needed
    "named_opening",  # the unit's opening sentence, and the question names the unit and nothing else
    "asked_exclusion",  # says what is left out ("does not include"), and the question asks that
    "named_item",   # starts with the designator of a sub-item the question names ("c." for 4.E.1.c)
    "excluded_item",  # an item of a list an exclusion introduces ("does not apply to … the following:"),
                      # sharing a term with a question whether something is caught or left out
)

# The hand-set weights the composer used before any were learned.
HAND: dict[str, float] = {"overlap": 1.0, "paragraph": 1.0, "opening": 0.3, "fragment": -0.3,
                          "exclusion": 0.5, "heading": -1.0, "defines": 2.0}


@dataclass(frozen=True)
class QuoteModel:
    """score = bias + Σ weight × feature. A unit's second quote (the best unit has two) is
    taken only when its score clears `second_min`."""

    weights: dict[str, float] = field(default_factory=lambda: dict(HAND))
    bias: float = 0.0
    second_min: float = 0.1

    def score(self, features: dict[str, float]) -> float:
        return self.bias + sum(self.weights.get(name, 0.0) * value for name, value in features.items())

    @classmethod
    def load(cls, path: Path) -> QuoteModel:
        """The learned model from the `quotes` section of the tuned-values file, or the hand
        weights when there is none (or it names features this code does not compute)."""
        if not path.exists():
            return cls()
        data = json.loads(path.read_text(encoding="utf-8")).get("quotes")
        if not data or not set(data.get("weights", {})) <= set(QUOTE_FEATURES):
            return cls()
        return cls(weights={k: float(v) for k, v in data["weights"].items()}, bias=float(data.get("bias", 0.0)),
                   second_min=float(data.get("second_min", 0.1)))

    def to_dict(self) -> dict:
        return {"features": list(QUOTE_FEATURES), "weights": {k: round(v, 6) for k, v in self.weights.items()},
                "bias": round(self.bias, 6), "second_min": self.second_min}


def length_feature(words: int) -> float:
    return math.log1p(words) / 5
