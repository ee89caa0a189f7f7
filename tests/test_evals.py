"""The citation-accuracy harness: evidence matching, scoring that cannot be flattered, the gold
sets, the support check's near misses, and the CI gate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.records import AnswerResponse, Citation, RetrievedRef
from evals.dataset import ANSWERABLE_TYPES, UNANSWERABLE_TYPES, EvalQuestion, load_dataset
from evals.gate import check
from evals.gold import SourceTexts, Span, check_dataset, gold_spans
from evals.metrics import METRIC_KEYS, aggregate, score_error, score_question
from evals.support import Thresholds, near_miss, verdict

from .conftest import CORPUS, PROJECT

DEV = PROJECT / "evals" / "datasets" / "dev.jsonl"
TEST = PROJECT / "evals" / "datasets" / "test.jsonl"
PROBES = sorted((PROJECT / "evals" / "probes").glob("*.jsonl"))
GATE = json.loads((PROJECT / "evals" / "gate.json").read_text())
THRESHOLDS = Thresholds(0.35, 0.85, 0.3)

# A two-paragraph document: the gold evidence is the second paragraph's first sentence.
DOC = ("---\nid: reg\n---\n## Article 5\n1. An authorisation shall be required for the export of "
       "cyber-surveillance items.\n\n2. Records shall be kept for five years by the exporter. Other words follow.\n")
EVIDENCE = "Records shall be kept for five years by the exporter."


@pytest.fixture
def sources(tmp_path: Path) -> SourceTexts:
    (tmp_path / "reg.md").write_text(DOC, encoding="utf-8")
    return SourceTexts(tmp_path)


def _question(**changes) -> EvalQuestion:  # noqa: ANN003
    data = {"id": "t1", "question": "How long are records kept?", "answerable": True, "type": "procedure",
            "gold": [{"doc": "reg", "section": "Article 5(2)", "evidence": EVIDENCE}],
            "must_mention": ["five years"]}
    return EvalQuestion.model_validate({**data, **changes})


def _span(text: str) -> tuple[int, int]:
    at = DOC.index(text)
    return at, at + len(text)


def _citation(n: int, quote: str, section: str = "Article 5(2)") -> Citation:
    start, end = _span(quote)
    chunk_id = next((cid for cid, text in _passages().items() if quote in text), "reg:1")
    return Citation(n=n, chunk_id=chunk_id, doc_id="reg", cite_as="Reg", section=section, heading_path="Reg",
                    quote=quote, source_url="", as_of="", completeness="partial", start=start, end=end)


def _retrieved(chunk_id: str, section: str, text: str) -> RetrievedRef:
    start, end = _span(text)
    return RetrievedRef(chunk_id=chunk_id, doc_id="reg", section=section, score=1.0, start=start, end=end)


def _passages() -> dict[str, str]:
    p1 = "An authorisation shall be required for the export of cyber-surveillance items."
    p2 = "Records shall be kept for five years by the exporter. Other words follow."
    return {"reg:1": p1, "reg:2": p2, "reg:3": p2}


def _embed(texts: list[str]) -> np.ndarray:
    """Bag-of-words vectors: enough to exercise the scoring arithmetic without the model."""
    vocab = sorted({w for t in texts for w in t.lower().split()})
    rows = np.array([[t.lower().split().count(w) for w in vocab] for t in texts], dtype=float)
    return rows / (np.linalg.norm(rows, axis=1, keepdims=True) + 1e-9)


def _score(response: AnswerResponse, sources: SourceTexts, question: EvalQuestion | None = None):  # noqa: ANN202
    return score_question(question or _question(), response, 1.0, _passages().get, _embed, THRESHOLDS, sources)


# -- matching by evidence offsets, both directions ------------------------------------------


def test_a_coarser_unit_containing_the_evidence_matches() -> None:
    start, end = _span(EVIDENCE)
    gold = Span("reg", start, end)
    assert gold.overlaps("reg", start - 100, end + 20)  # `Article 5` ~ gold `Article 5(2)`
    assert gold.overlaps("reg", start + 5, start + 20)  # `5A001.j` inside gold `5A001`: finer matches too
    assert not gold.overlaps("reg", end, end + 40)  # the next sentence does not
    assert not gold.overlaps("other", start, end)  # nor the same offsets of another document
    assert not gold.overlaps("reg", None, None)


def test_quoting_the_wrong_sentence_of_the_right_unit_earns_nothing(sources: SourceTexts) -> None:
    response = AnswerResponse(question="q", standalone_question="q", answer="“Other words follow.” [1]",
                              citations=[_citation(1, "Other words follow.")])
    score = _score(response, sources)
    assert score.citation_precision == 0.0 and score.citation_recall == 0.0 and not score.passed


def test_precision_is_per_distinct_unit_and_recall_over_distinct_units_in_rank_order(sources: SourceTexts) -> None:
    first = "An authorisation shall be required for the export of cyber-surveillance items."
    response = AnswerResponse(
        question="q", standalone_question="q",
        answer=f"“{EVIDENCE}” [1] “{EVIDENCE}” [2] “{first}” [3]",
        citations=[_citation(1, EVIDENCE), _citation(2, EVIDENCE), _citation(3, first, "Article 5(1)")],
        # Two chunks of one wrong unit first, then the right one: rank 2 over units, not 3 over chunks.
        retrieved=[_retrieved("reg:1", "Article 5(1)", first), _retrieved("reg:1b", "Article 5(1)", first),
                   _retrieved("reg:2", "Article 5(2)", EVIDENCE)],
    )
    score = _score(response, sources)
    assert score.citation_precision == 0.5  # two distinct units cited, one right (not 2 of 3)
    assert score.citation_recall == 1.0 and score.cited_units == 2
    assert score.reciprocal_rank == 0.5 and score.retrieval_recall_at_5 == 1.0
    assert score.must_mention_coverage == 1.0 and score.passed


def test_a_lead_in_is_judged_with_the_item_it_introduces(sources: SourceTexts) -> None:
    """A lead-in quoted only to introduce an item adds no unit: it cannot make a wrong item right
    (precision), and its quoted words count towards recall."""
    first = "An authorisation shall be required for the export of cyber-surveillance items."
    wrong_item = "Other words follow."
    lead = _citation(1, first, "Article 5(1)").model_copy(update={"introduces": 2})
    response = AnswerResponse(question="q", standalone_question="q", answer=f"“{first}” [1] “{wrong_item}” [2]",
                              citations=[lead, _citation(2, wrong_item)])
    assert _score(response, sources).citation_precision == 0.0 and _score(response, sources).cited_units == 1
    gold_lead = _question(gold=[{"doc": "reg", "section": "Article 5(1)", "evidence": first}], must_mention=[])
    score = _score(response, sources, gold_lead)
    assert score.citation_precision == 0.0  # the item is not the answer, though its lead-in is
    assert score.citation_recall == 1.0  # the lead-in's words are quoted and cited
    # Without the mark, the same citation is a unit of its own and earns its place.
    plain = response.model_copy(update={"citations": [lead.model_copy(update={"introduces": None}),
                                                      _citation(2, wrong_item)]})
    assert _score(plain, sources, gold_lead).citation_precision == 0.5


def test_an_abstained_answerable_question_scores_zero_whatever_it_lists(sources: SourceTexts) -> None:
    response = AnswerResponse(question="q", standalone_question="q", abstained=True,
                              answer="The bundled texts do not answer this. Closest passages: [1]",
                              citations=[_citation(1, EVIDENCE)])  # the right passage, as a reference
    score = _score(response, sources)
    assert (score.citation_precision, score.citation_recall, score.must_mention_coverage) == (0.0, 0.0, 0.0)
    assert not score.abstention_correct and not score.passed


def test_an_answered_unanswerable_question_scores_precision_zero(sources: SourceTexts) -> None:
    question = _question(answerable=False, type="out-of-corpus", gold=[], must_mention=[])
    response = AnswerResponse(question="q", standalone_question="q", answer=f"“{EVIDENCE}” [1]",
                              citations=[_citation(1, EVIDENCE)])
    score = _score(response, sources, question)
    assert score.citation_precision == 0.0 and not score.abstention_correct
    declined = _score(AnswerResponse(question="q", standalone_question="q", abstained=True, answer="no"), sources,
                      question)
    assert declined.citation_precision is None and declined.abstention_correct and declined.passed


def test_the_kind_of_no_is_scored_apart_from_declining(sources: SourceTexts) -> None:
    """"§ 743.1 does not exist" declines an out-of-corpus question, but says something false."""
    question = _question(answerable=False, type="out-of-corpus", gold=[], must_mention=[])

    def declined(kind: str):  # noqa: ANN202
        response = AnswerResponse(question="q", standalone_question="q", abstained=True, answer="no", abstain_kind=kind)
        return _score(response, sources, question)

    right, wrong = declined("out-of-corpus"), declined("false-premise")
    assert right.abstention_correct and wrong.abstention_correct  # both declined
    assert aggregate([right])["abstention_kind_accuracy"] == 1.0
    assert aggregate([wrong])["abstention_kind_accuracy"] == 0.0
    assert aggregate([right, wrong])["abstention_accuracy"] == 1.0


def test_an_error_scores_zero_and_counts_as_an_error() -> None:
    score = score_error(_question(), "RuntimeError: boom", 3.0)
    assert not score.abstention_correct and score.citation_precision == 0.0 and score.retrieval_recall_at_10 == 0.0
    metrics = aggregate([score])
    assert metrics["errors"] == 1.0 and metrics["citation_precision"] == 0.0 and metrics["answer_rate"] == 0.0


def test_a_quote_must_stand_at_its_offsets_in_the_source_file(sources: SourceTexts) -> None:
    good = _citation(1, EVIDENCE)
    shifted = good.model_copy(update={"n": 2, "start": good.start + 1, "end": good.end + 1})
    invented = good.model_copy(update={"n": 3, "quote": "Records shall be kept for fifty years by the exporter."})
    response = AnswerResponse(question="q", standalone_question="q", answer=f"“{EVIDENCE}” [1] [2] [3]",
                              citations=[good, shifted, invented])
    score = _score(response, sources)
    assert (score.quotes, score.valid_quotes) == (3, 1)
    assert set(aggregate([score])) == set(METRIC_KEYS)


# -- the support check catches near misses --------------------------------------------------

PASSAGE = ("An authorisation shall be required for the export of cyber-surveillance items not listed in Annex I. "
           "The exporter shall notify the competent authority. Records shall be retained for five years.")


@pytest.mark.parametrize("claim", [
    "An authorisation shall not be required for the export of cyber-surveillance items.",
    "No authorisation shall be required for the export of cyber-surveillance items to China.",
    "An authorisation shall be required for the export of cyber-surveillance items, but cameras are exempt everywhere.",
    "Records shall be retained for fifty years.",
    "Records shall be retained for 50 years.",
    "The competent authority shall notify the exporter.",
    "An authorisation shall be required for the export of cyber-surveillance items listed in Annex I.",
])
def test_near_misses_are_not_supported(claim: str) -> None:
    assert near_miss(claim, PASSAGE) is not None
    assert verdict(claim, PASSAGE, 0.99, THRESHOLDS) is False


@pytest.mark.parametrize("claim", [
    "An authorisation shall be required for the export of cyber-surveillance items not listed in Annex I.",
    "Records shall be retained for five years.",
    "The exporter shall notify the competent authority.",
])
def test_faithful_claims_are_supported(claim: str) -> None:
    assert near_miss(claim, PASSAGE) is None
    assert verdict(claim, PASSAGE, None, THRESHOLDS) is True


def test_a_quote_around_a_reference_is_not_a_near_miss() -> None:
    """"No EU005" is a number sign, not a negation; with the reference taken out of the sentence
    only, "no in" looked like a negation the passage lacks."""
    passage = ("2.The exporter shall declare that the items are being exported under Union general export "
               "authorisation No EU005 in the customs declaration.")
    assert near_miss(passage, passage) is None
    assert near_miss(passage.replace("No EU005 in", "No EU005 not in"), passage) is not None


# -- the gate ---------------------------------------------------------------------------------


def _report(**metrics) -> dict:  # noqa: ANN003
    return {"metrics": {"citation_precision": 0.7, "errors": 0.0, **metrics},
            "per_type": {"definition": {"citation_recall": 0.9}},
            "abstention_by_kind": {"out-of-scope": 1.0, "false-premise": 0.5},
            "questions": [{"id": "a", "passed": True}, {"id": "b", "passed": False}]}


def test_the_gate_fails_on_each_kind_of_regression() -> None:
    gate = {"metrics": {"citation_precision": 0.6, "errors": 0},
            "per_type": {"definition": {"citation_recall": 0.8}},
            "abstention_by_kind": {"out-of-scope": 0.9, "false-premise": 0.5}}
    assert check(_report(), gate, {"passed": ["a"]}) == []
    assert check(_report(citation_precision=0.5), gate)  # a floor
    assert check(_report(errors=1.0), gate)  # any error
    assert check(_report(), {**gate, "abstention_by_kind": {"false-premise": 0.8}})  # a kind of "no"
    assert check(_report(), {**gate, "per_type": {"definition": {"citation_recall": 0.95}}})  # a type
    assert check(_report(), gate, {"passed": ["a", "b"]})  # b passed in the baseline and fails now
    assert check(_report(), {**gate, "per_type": {"licence": {"citation_recall": 0.1}}})  # a type gone


# -- the gold sets ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [DEV, TEST], ids=["dev", "test"])
def test_gold_sets_have_sound_evidence_for_every_answerable_question(path: Path) -> None:
    questions = load_dataset(path)
    assert check_dataset(questions, SourceTexts(CORPUS)) == []
    for q in questions:
        if q.answerable:
            assert all(g.evidence for g in q.gold), q.id
            if "+" in q.jurisdiction:
                assert len({g.doc for g in q.gold}) >= 2, f"{q.id}: a cross-jurisdiction question needs both sides"


@pytest.mark.parametrize("path", PROBES, ids=[p.stem for p in PROBES])
def test_unread_probe_sets_have_verbatim_gold_and_no_question_of_dev_or_test(path: Path) -> None:
    probes = load_dataset(path)
    assert len(probes) >= 50
    assert check_dataset(probes, SourceTexts(CORPUS)) == []
    seen = {q.question for q in load_dataset(DEV) + load_dataset(TEST)}
    assert not {q.question for q in probes} & seen, "a probe set that joined dev leaves evals/probes/"


def test_no_code_reads_the_unread_probe_sets() -> None:
    """A tuner or rule that read them would make them tuned-on data; only the eval CLI's
    --dataset argument may point at them."""
    code = [p for folder in ("assistant", "indexer", "evals", "web", "regqa", "determination", "screening")
            for p in (PROJECT / folder).rglob("*.py")]
    assert len(code) > 20
    readers = [p.relative_to(PROJECT) for p in code
               if any(name in p.read_text(encoding="utf-8") for name in ("probes/", '"probes"'))]
    assert readers == []


def test_the_gold_sets_are_large_disjoint_and_cover_every_type() -> None:
    dev, test = load_dataset(DEV), load_dataset(TEST)
    assert len(dev) >= 150 and len(test) >= 50
    assert not {q.id for q in dev} & {q.id for q in test}
    assert not {q.question for q in dev} & {q.question for q in test}
    for questions in (dev, test):
        assert {q.type for q in questions} == set(ANSWERABLE_TYPES) | set(UNANSWERABLE_TYPES)
    assert sum(not q.answerable for q in dev + test) >= 20


def test_gold_spans_find_each_evidence_once(sources: SourceTexts) -> None:
    (span,) = gold_spans(_question(), sources)
    assert DOC[span.start : span.end] == EVIDENCE


@pytest.mark.slow
@pytest.mark.parametrize("name", ["dev", "test"])
def test_ci_gate(corpus_index, tmp_path: Path, name: str) -> None:  # noqa: ANN001
    """The CI gate: `regqa eval --gate` on each gold set in extractive mode on the whole corpus."""
    dataset = PROJECT / "evals" / "datasets" / f"{name}.jsonl"
    out = tmp_path / "eval"
    command = [str(Path(sys.executable).with_name("regqa")), "eval", "--dataset", str(dataset),
               "--mode", GATE["mode"], "--out", str(out), "--gate", str(PROJECT / "evals" / "gate.json")]
    env = {**os.environ, "REGQA_DATA_DIR": str(corpus_index.index_dir), "COLUMNS": "200"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900, cwd=PROJECT)
    print(result.stdout[-4000:], result.stderr[-4000:])
    assert result.returncode == 0, "the eval gate failed: see the table above"
    report = json.loads((out / "report.json").read_text())
    assert set(report["metrics"]) == set(METRIC_KEYS)
    assert len(report["questions"]) == len(load_dataset(dataset))
    assert (out / "report.md").exists() and (out / "metrics_by_type.png").stat().st_size > 10_000
