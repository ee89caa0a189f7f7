"""Per-question scores and their aggregation, overall and per question type.

Scoring that cannot be flattered:
- a question that raised an error scores 0 everywhere and counts as a wrong decision;
- an answerable question that abstained scores 0 on citation precision, recall and
  must-mention (its "closest passages" are references, not citations);
- an unanswerable question that was answered scores citation precision 0;
- precision is per distinct cited unit; recall@k and MRR run over distinct retrieved units in
  rank order (lead-in passages of one unit do not take extra slots);
- a citation or a retrieved unit is right only where its characters overlap the gold
  evidence in the source file; quotes are checked against the source files themselves;
- a lead-in quoted only to introduce a list item, or the words that close its list
  (`Citation.introduces`), is not a unit of its own: precision judges the item it introduces,
  so a lead-in can neither add a right unit nor make a wrong item right; its words count
  towards recall, being quoted and cited.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from pydantic import BaseModel, Field

from assistant.records import AnswerResponse
from evals.dataset import UNANSWERABLE_TYPES, EvalQuestion
from evals.gold import SourceTexts, Span, gold_spans, hits, units
from evals.support import Thresholds, answer_sentences, cosine, verdict

METRIC_KEYS = (
    "retrieval_recall_at_5", "retrieval_recall_at_10", "mrr", "citation_precision", "citation_recall",
    "quote_validity", "support_rate", "answer_rate", "abstention_accuracy", "unanswerable_abstention",
    "abstention_kind_accuracy",
    "must_mention_coverage", "cited_units_median", "answer_words_median", "errors",
    "latency_ms_p50", "latency_ms_p95",
)
# Higher is better for every metric except these.
LOWER_IS_BETTER = {"latency_ms_p50", "latency_ms_p95", "errors", "cited_units_median", "answer_words_median"}


class QuestionScore(BaseModel):
    id: str
    type: str
    question: str
    answerable: bool
    abstained: bool
    retrieval_recall_at_5: float | None = None
    retrieval_recall_at_10: float | None = None
    reciprocal_rank: float | None = None
    citation_precision: float | None = None
    citation_recall: float | None = None
    cited_units: int = 0
    answer_words: int = 0
    quotes: int = 0
    valid_quotes: int = 0
    sentences: int = 0
    supported_sentences: int = 0
    abstention_correct: bool
    abstain_kind: str | None = None  # the kind of "no" the answer gave, when it declined
    must_mention_coverage: float | None = None
    passed: bool = False
    latency_ms: float
    timings_ms: dict[str, float] = Field(default_factory=dict)
    predicted: list[str] = Field(default_factory=list)
    gold: list[str] = Field(default_factory=list)
    unsupported: list[str] = Field(default_factory=list)
    answer: str = ""
    error: str | None = None


# (chunk_id) -> passage text, or None when the passage does not exist
PassageLookup = Callable[[str], str | None]
# list of texts -> unit-normalised embeddings
Embed = Callable[[list[str]], np.ndarray]


def answer_body(answer: str) -> str:
    """The answer before its source list and notices: what a reader reads as the answer."""
    return answer.split("\n\nSources", 1)[0]


def score_error(q: EvalQuestion, error: str, latency_ms: float) -> QuestionScore:
    """A question that raised: zero everywhere, a wrong decision, never a silent abstention."""
    zero = 0.0 if q.answerable else None
    return QuestionScore(
        id=q.id, type=q.type, question=q.question, answerable=q.answerable, abstained=False,
        abstention_correct=False, latency_ms=latency_ms, error=error[:300],
        retrieval_recall_at_5=zero, retrieval_recall_at_10=zero, reciprocal_rank=zero,
        citation_precision=0.0, citation_recall=zero, must_mention_coverage=zero,
        gold=[f"{g.doc} {g.section}" for g in q.gold],
    )


def score_question(q: EvalQuestion, response: AnswerResponse, latency_ms: float, passage: PassageLookup,
                   embed: Embed, thresholds: Thresholds, sources: SourceTexts) -> QuestionScore:
    spans = gold_spans(q, sources)
    retrieved = units((r.doc_id, f"{r.section}\x1f{r.unit}", r.start, r.end) for r in response.retrieved)
    numbers = {c.n for c in response.citations}
    claims = [c for c in response.citations if c.introduces not in numbers]
    leads = [c for c in response.citations if c.introduces in numbers]
    cited = units((c.doc_id, f"{c.section}\x1f{c.unit}", c.start, c.end) for c in claims)
    body = answer_body(response.answer)
    score = QuestionScore(
        id=q.id, type=q.type, question=q.question, answerable=q.answerable, abstained=response.abstained,
        abstention_correct=response.abstained != q.answerable, latency_ms=latency_ms,
        abstain_kind=response.abstain_kind if response.abstained else None,
        timings_ms=response.timings_ms, answer=response.answer,
        cited_units=0 if response.abstained else len(cited), answer_words=len(body.split()),
        predicted=list(dict.fromkeys(f"{c.doc_id} {c.section}" for c in response.citations)),
        gold=[f"{g.doc} {g.section}" for g in q.gold],
    )
    if q.answerable:
        _score_answerable(score, q, response, spans, retrieved, cited, body,
                          [(c.doc_id, c.start, c.end) for c in leads])
    elif not response.abstained:
        score.citation_precision = 0.0  # whatever it cites, it should have said "not covered"
    score.passed = score.abstention_correct and (not q.answerable or (score.citation_recall or 0.0) > 0)
    _score_quotes(score, response, passage, sources)
    if not response.abstained:
        _score_support(score, response, passage, embed, thresholds)
    return score


def _score_answerable(score: QuestionScore, q: EvalQuestion, response: AnswerResponse, spans: list[Span],
                      retrieved: list, cited: list, body: str, leads: list) -> None:
    def recall_at(k: int) -> float:
        found: set[int] = set()
        for unit in retrieved[:k]:
            found |= hits(unit, spans)
        return len(found) / len(spans)

    score.retrieval_recall_at_5 = recall_at(5)
    score.retrieval_recall_at_10 = recall_at(10)
    rank = next((i for i, unit in enumerate(retrieved, start=1) if hits(unit, spans)), None)
    score.reciprocal_rank = 1.0 / rank if rank else 0.0
    if response.abstained:  # references shown with "not covered" are not an answer
        score.citation_precision = 0.0
        score.citation_recall = 0.0
        score.must_mention_coverage = 0.0 if q.must_mention else None
        return
    found = [hits(unit, spans) for unit in cited]
    score.citation_precision = sum(1 for f in found if f) / len(cited) if cited else 0.0
    score.citation_recall = len(set().union(*found, hits(leads, spans))) / len(spans) if found else 0.0
    if q.must_mention:
        text = body.lower()
        score.must_mention_coverage = sum(m.lower() in text for m in q.must_mention) / len(q.must_mention)


def _score_quotes(score: QuestionScore, response: AnswerResponse, passage: PassageLookup,
                  sources: SourceTexts) -> None:
    """A quote is valid when it is in its stored passage and, for a corpus document, stands at
    its offsets in the source file itself (not only in the index's copy of it)."""
    score.quotes = len(response.citations)
    for c in response.citations:
        stored = passage(c.chunk_id)
        if not stored or c.quote not in stored:
            continue
        source = sources.text(c.doc_id)
        if source is not None and (c.start is None or source[c.start : c.end] != c.quote):
            continue
        score.valid_quotes += 1


def _score_support(score: QuestionScore, response: AnswerResponse, passage: PassageLookup, embed: Embed,
                   thresholds: Thresholds) -> None:
    passages = {c.n: passage(c.chunk_id) for c in response.citations}
    labels = {c.n: (c.section, c.unit, c.cite_as) for c in response.citations}
    sentences = answer_sentences(answer_body(response.answer))
    score.sentences = len(sentences)
    pending: list[tuple[int, str, str, tuple[str, ...]]] = []
    ok = [False] * len(sentences)
    for i, (sentence, markers) in enumerate(sentences):
        for n in markers:
            text = passages.get(n)
            if not text:
                continue
            decided = verdict(sentence, text, None, thresholds, labels[n])
            if decided is True:
                ok[i] = True
                break
            if decided is None:
                pending.append((i, sentence, text, labels[n]))
    pending = [p for p in pending if not ok[p[0]]]
    if pending:
        vectors = embed([p[1] for p in pending] + [p[2] for p in pending])
        for j, (i, sentence, text, names) in enumerate(pending):
            if verdict(sentence, text, cosine(vectors[j], vectors[len(pending) + j]), thresholds, names):
                ok[i] = True
    for (sentence, _), good in zip(sentences, ok):
        if good:
            score.supported_sentences += 1
        else:
            score.unsupported.append(sentence)


def aggregate(scores: Sequence[QuestionScore]) -> dict[str, float]:
    def mean(values: list[float | None]) -> float:
        present = [v for v in values if v is not None]
        return round(float(np.mean(present)), 4) if present else math.nan

    def median(values: list[int]) -> float:
        return round(float(np.median(values)), 2) if values else math.nan

    quotes = sum(s.quotes for s in scores)
    sentences = sum(s.sentences for s in scores)
    latencies = [s.latency_ms for s in scores]
    answerable = [s for s in scores if s.answerable]
    answered = [s for s in answerable if not s.abstained and not s.error]
    unanswerable = [s for s in scores if not s.answerable]
    return {
        "retrieval_recall_at_5": mean([s.retrieval_recall_at_5 for s in scores]),
        "retrieval_recall_at_10": mean([s.retrieval_recall_at_10 for s in scores]),
        "mrr": mean([s.reciprocal_rank for s in scores]),
        "citation_precision": mean([s.citation_precision for s in scores]),
        "citation_recall": mean([s.citation_recall for s in scores]),
        "quote_validity": round(sum(s.valid_quotes for s in scores) / quotes, 4) if quotes else 1.0,
        "support_rate": round(sum(s.supported_sentences for s in scores) / sentences, 4) if sentences else math.nan,
        "answer_rate": mean([0.0 if s.abstained or s.error else 1.0 for s in answerable]),
        "abstention_accuracy": mean([1.0 if s.abstention_correct else 0.0 for s in scores]),
        "unanswerable_abstention": mean([1.0 if s.abstention_correct else 0.0 for s in unanswerable]),
        # Declined with the right kind of "no": out of scope, out of corpus (not bundled) or a
        # false premise (does not exist) — telling a user a section does not exist when it is
        # only not bundled is a wrong answer, though a declined one.
        "abstention_kind_accuracy": mean([1.0 if s.abstain_kind == s.type else 0.0 for s in unanswerable]),
        "must_mention_coverage": mean([s.must_mention_coverage for s in scores]),
        "cited_units_median": median([s.cited_units for s in answered]),
        "answer_words_median": median([s.answer_words for s in answered]),
        "errors": float(sum(1 for s in scores if s.error)),
        "latency_ms_p50": round(float(np.percentile(latencies, 50)), 2) if latencies else math.nan,
        "latency_ms_p95": round(float(np.percentile(latencies, 95)), 2) if latencies else math.nan,
    }


def abstention_by_kind(scores: Sequence[QuestionScore]) -> dict[str, float]:
    """Share of each kind of unanswerable question that was rightly declined."""
    result = {}
    for kind in UNANSWERABLE_TYPES:
        group = [s for s in scores if s.type == kind]
        if group:
            result[kind] = round(sum(s.abstention_correct for s in group) / len(group), 4)
    return result


def stage_latencies(scores: Sequence[QuestionScore]) -> dict[str, dict[str, float]]:
    stages: dict[str, list[float]] = {}
    for s in scores:
        for stage, ms in s.timings_ms.items():
            stages.setdefault(stage, []).append(ms)
    return {stage: {"p50": round(float(np.percentile(v, 50)), 2), "p95": round(float(np.percentile(v, 95)), 2)}
            for stage, v in stages.items()}
