"""The citation-accuracy harness: matching rules, scoring, the gold set, and the CI gate."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.records import AnswerResponse, Citation, RetrievedRef
from evals.dataset import EvalQuestion, load_dataset
from evals.matching import section_matches
from evals.metrics import METRIC_KEYS, aggregate, score_question
from evals.support import Thresholds

from .conftest import PROJECT

DEV = PROJECT / "evals" / "datasets" / "dev.jsonl"
GATE = json.loads((PROJECT / "evals" / "gate.json").read_text())


@pytest.mark.parametrize(
    ("predicted", "gold", "expected"),
    [
        ("Article 5(2)", "Article 5", True),
        ("Article 50", "Article 5", False),
        ("Art. 5(1)", "Article 5", True),
        ("§ 742.7(a)(1)", "§ 742.7", True),
        ("742.7(a)", "§ 742.7", True),
        ("§ 742.70", "§ 742.7", False),
        ("ECCN 5A001.j", "ECCN 5A001", True),
        ("ECCN 5A0011", "ECCN 5A001", False),
        ("ecccn 5a001", "ECCN 5A001", False),
        ("  article   5 ( 1 )", "Article 5(1)", True),
    ],
)
def test_section_matching(predicted: str, gold: str, expected: bool) -> None:
    assert section_matches(predicted, gold) is expected


def test_dev_set_shape() -> None:
    questions = load_dataset(DEV)
    assert len(questions) >= 60
    types = {q.type for q in questions}
    assert types == {"licence", "definition", "list-lookup", "cross-jurisdiction", "procedure", "false-premise",
                     "out-of-scope"}
    assert sum(not q.answerable for q in questions) >= 10
    assert sum("+" in q.jurisdiction for q in questions) >= 10


def _chunk_fixture() -> tuple[dict[str, str], EvalQuestion]:
    passages = {"d:1": "An authorisation shall be required for the export of cyber-surveillance items.",
                "d:2": "Records shall be kept for five years."}
    question = EvalQuestion(id="t1", question="Need a licence?", answerable=True, type="licence",
                            gold=[{"doc": "reg", "section": "Article 5"}], must_mention=["authorisation"])
    return passages, question


def _citation(n: int, chunk_id: str, section: str, quote: str) -> Citation:
    return Citation(n=n, chunk_id=chunk_id, doc_id="reg", cite_as="Reg", section=section, heading_path="Reg",
                    quote=quote, source_url="", as_of="", completeness="partial")


def _embed(texts: list[str]) -> np.ndarray:
    """Bag-of-words vectors: enough to exercise the scoring arithmetic without the model."""
    vocab = sorted({w for t in texts for w in t.lower().split()})
    rows = np.array([[t.lower().split().count(w) for w in vocab] for t in texts], dtype=float)
    return rows / (np.linalg.norm(rows, axis=1, keepdims=True) + 1e-9)


def test_scoring_catches_bad_quotes_and_unsupported_sentences() -> None:
    passages, question = _chunk_fixture()
    response = AnswerResponse(
        question=question.question, standalone_question=question.question,
        answer="- Article 5(1): “An authorisation shall be required for the export of cyber-surveillance items.” [1]\n"
               "Exports of cameras are always free of any licence obligation [2].",
        citations=[_citation(1, "d:1", "Article 5(1)", "An authorisation shall be required"),
                   _citation(2, "d:2", "Article 9", "invented words not in the passage")],
        retrieved=[RetrievedRef(chunk_id="d:2", doc_id="reg", section="Article 9", score=1),
                   RetrievedRef(chunk_id="d:1", doc_id="reg", section="Article 5(1)", score=0.5)],
    )
    score = score_question(question, response, 12.0, passages.get, _embed, Thresholds(0.35, 0.85, 0.3))
    assert (score.quotes, score.valid_quotes) == (2, 1)
    assert (score.sentences, score.supported_sentences) == (2, 1)
    assert score.citation_precision == 0.5 and score.citation_recall == 1.0
    assert score.reciprocal_rank == 0.5 and score.retrieval_recall_at_5 == 1.0
    assert score.must_mention_coverage == 1.0 and score.abstention_correct
    metrics = aggregate([score])
    assert set(metrics) == set(METRIC_KEYS) and metrics["quote_validity"] == 0.5


def test_abstaining_on_an_answerable_question_is_scored_as_a_miss() -> None:
    passages, question = _chunk_fixture()
    response = AnswerResponse(question="q", standalone_question="q", answer="The corpus does not answer this.",
                              abstained=True)
    score = score_question(question, response, 5.0, passages.get, _embed, Thresholds(0.35, 0.85, 0.3))
    assert not score.abstention_correct and score.citation_recall == 0.0 and score.citation_precision is None


@pytest.mark.slow
def test_every_gold_section_exists_in_the_index(assistant) -> None:  # noqa: ANN001
    snapshot = assistant.reader.snapshot()
    sections: dict[str, set[str]] = {}
    for chunk in snapshot.chunks:
        sections.setdefault(chunk.doc_id, set()).add(chunk.section)
    for q in load_dataset(DEV):
        for gold in q.gold:
            assert gold.doc in sections, f"{q.id}: no document {gold.doc}"
            assert any(section_matches(s, gold.section) for s in sections[gold.doc]), f"{q.id}: {gold.section}"


@pytest.mark.slow
def test_ci_gate_on_the_dev_set(corpus_index, tmp_path: Path) -> None:  # noqa: ANN001
    """The CI gate: `regqa eval` on the dev set in extractive mode must meet evals/gate.json."""
    out = tmp_path / "eval"
    command = [str(Path(sys.executable).with_name("regqa")), "eval", "--dataset", str(PROJECT / GATE["dataset"]),
               "--mode", GATE["mode"], "--out", str(out)]
    for metric, value in GATE["fail_under"].items():
        command += ["--fail-under", f"{metric}={value}"]
    env = {**os.environ, "REGQA_DATA_DIR": str(corpus_index.index_dir), "COLUMNS": "160"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=900)
    print(result.stdout[-3000:], result.stderr[-3000:])
    assert result.returncode == 0, "the eval gate failed: see the table above"
    report = json.loads((out / "report.json").read_text())
    assert set(report["metrics"]) == set(METRIC_KEYS)
    assert all(isinstance(v, (int, float)) for v in report["metrics"].values())
    assert len(report["questions"]) == len(load_dataset(PROJECT / GATE["dataset"]))
    assert (out / "report.md").exists() and (out / "metrics_by_type.png").stat().st_size > 10_000
    # A baseline comparison and a missed gate exit non-zero.
    missed = subprocess.run(command[:8] + ["--out", str(tmp_path / "again"), "--baseline", str(out / "report.json"),
                                           "--fail-under", "mrr=1.01"],
                            capture_output=True, text=True, env=env, timeout=900)
    assert missed.returncode == 1 and "Gate missed" in missed.stderr
    assert json.loads((tmp_path / "again" / "report.json").read_text())["baseline_delta"]["mrr"] == 0.0
