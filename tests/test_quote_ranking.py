"""Which sentence of a cited unit is quoted: the features the composer computes, the model that
weighs them (hand weights unless a learned one is stored), and the training that learns them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.extractive import QuoteContext, compose, sentence_candidates
from assistant.quote_ranking import HAND, QUOTE_FEATURES, QuoteModel
from assistant.retrieval import Passage
from indexer.records import Chunk

RULE = ("1. This authorisation covers exports for an exhibition or fair. "
        "The items shall be reimported within a period of 120 days after the initial export.")


def _passage(text: str) -> Passage:
    chunk = Chunk(chunk_id="c1", doc_id="doc", ordinal=1, cite_as="Test Act", title="Test Act", section="EU004",
                  heading_path="EU004", context="", text=text, start=0, end=len(text), token_count=40,
                  jurisdiction="EU", doc_type="regulation", as_of="2025-01-01", source_url="",
                  completeness="complete", unit="EU004")
    return Passage([chunk], score=1.0, dense=0.5, exact=False, chunk_scores={chunk.chunk_id: 1.0})


def test_every_candidate_has_every_feature_and_a_period_is_seen_when_asked() -> None:
    asked = sentence_candidates(_passage(RULE), QuoteContext.of("How long can the demo unit stay at the fair?"))
    assert [set(q.features) for q in asked] == [set(QUOTE_FEATURES)] * 2
    assert [q.features["duration"] for q in asked] == [0.0, 1.0]
    assert [q.features["number"] for q in asked] == [1.0, 1.0]  # "1." and "120"
    not_asked = sentence_candidates(_passage(RULE), QuoteContext.of("Does the authorisation cover a fair?"))
    assert [q.features["duration"] for q in not_asked] == [0.0, 0.0]


def test_the_model_decides_which_sentence_is_quoted_first() -> None:
    question = "How long can the demo unit stay at the fair?"
    hand = compose(question, [_passage(RULE)], model=QuoteModel())
    assert hand.citations[0].quote.startswith("1. This authorisation")  # the opening sentence (hand weights)
    timed = QuoteModel(weights={**HAND, "duration": 3.0}, second_min=99.0)  # one quote only
    draft = compose(question, [_passage(RULE)], model=timed)
    assert [c.quote[:9] for c in draft.citations] == ["The items"]


def test_the_stored_model_is_loaded_and_a_foreign_one_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fusion.json"
    assert QuoteModel.load(path) == QuoteModel()  # no file: the hand weights
    path.write_text(json.dumps({"selection": {}}), encoding="utf-8")
    assert QuoteModel.load(path).weights == HAND
    learned = QuoteModel(weights={"overlap": 2.0, "duration": 1.5}, bias=-1.0, second_min=-0.5)
    path.write_text(json.dumps({"quotes": learned.to_dict()}), encoding="utf-8")
    assert QuoteModel.load(path) == learned
    path.write_text(json.dumps({"quotes": {"weights": {"no such feature": 1.0}}}), encoding="utf-8")
    assert QuoteModel.load(path) == QuoteModel()


def test_training_learns_the_feature_that_tells_answering_sentences_apart() -> None:
    from evals.quote_training import Unit, fit, quotes_objective, top_hit

    rng = np.random.default_rng(0)
    units = []
    for i in range(60):
        x = rng.random((4, len(QUOTE_FEATURES)))
        answer = int(rng.integers(4))
        x[:, QUOTE_FEATURES.index("duration")] = 0.0
        x[answer, QUOTE_FEATURES.index("duration")] = 1.0  # only the answering sentence states a period
        y = np.zeros(4, dtype=int)
        y[answer] = 1
        spans = [frozenset({0}) if j == answer else frozenset() for j in range(4)]
        units.append(Unit(f"q{i}", True, x, y, np.zeros(4, dtype=bool), spans))
    model = fit(units, 1.0)
    assert max(model.weights, key=lambda f: abs(model.weights[f])) == "duration"
    assert top_hit(model, units) == 1.0
    assert top_hit(QuoteModel(weights={"duration": -1.0}), units) == 0.0
    one = QuoteModel(model.weights, model.bias, second_min=1e9)  # the answer alone: precision 1 + recall 1
    assert quotes_objective(one, units) == pytest.approx(2.0)
    # Cross-validated choice: each question gets a model fitted without its fold, and the
    # held-out scores are reported beside the hand weights'.
    from evals.quote_training import choose

    final, report, held = choose(units, 5)
    assert set(held) == {u.question_id for u in units} and len({id(m) for m in held.values()}) == 5
    assert report["learned top-sentence hit (held out)"] == 1.0 > report["hand top-sentence hit"]
    assert final.weights["duration"] > 0


def test_an_item_that_an_exclusion_introduces_is_quoted_after_its_note() -> None:
    """Alone, "b. Network Quality of Service (QoS); or" reads as a criterion of the entry; after
    its Note it says what the entry leaves out."""
    text = ("j. IP network communications surveillance equipment having all of the following:\n"
            "a. Analysis at the application layer of carrier traffic; and\n"
            "b. Indexing of the extracted data of subscribers.\n"
            "Note 5.A.1.j. does not apply to systems or equipment, specially designed for any of the following:\n"
            "a. Marketing purpose of the operator;\n"
            "b. Network Quality of Service (QoS) of the operator; or\n"
            "c. Quality of Experience (QoE) of the operator.")
    question = "Is a deep packet inspection box used only for network quality of service controlled?"
    passage = _passage(text)
    candidates = sentence_candidates(passage, QuoteContext.of(question))
    flagged = [text[q.start : q.end][:2] for q in candidates if q.features["excluded_item"]]
    assert flagged == ["b.", "c."]  # the Note's items that share the question's words, not the entry's
    model = QuoteModel(weights={**HAND, "excluded_item": 3.0}, second_min=99.0)
    draft = compose(question, [passage], model=model)
    quotes = [c.quote for c in draft.citations]
    assert quotes[0].startswith("Note 5.A.1.j. does not apply") and quotes[1].startswith("b. Network Quality")
    assert draft.citations[0].introduces == draft.citations[1].n  # the Note is the item's lead-in
    # Asked what the entry controls, the Note's items are not what the question is about.
    plain = sentence_candidates(passage, QuoteContext.of("What does the entry require of the equipment?"))
    assert not any(q.features["excluded_item"] for q in plain)
