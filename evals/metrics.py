"""Per-question scores and their aggregation, overall and per question type."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
from pydantic import BaseModel, Field

from assistant.records import AnswerResponse
from evals.dataset import EvalQuestion
from evals.matching import citation_matches
from evals.support import Thresholds, answer_sentences, cosine, lexical, supported

METRIC_KEYS = (
    "retrieval_recall_at_5", "retrieval_recall_at_10", "mrr", "citation_precision", "citation_recall",
    "quote_validity", "support_rate", "abstention_accuracy", "must_mention_coverage",
    "latency_ms_p50", "latency_ms_p95",
)
# Higher is better for every metric except latency.
LOWER_IS_BETTER = {"latency_ms_p50", "latency_ms_p95"}


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
    quotes: int = 0
    valid_quotes: int = 0
    sentences: int = 0
    supported_sentences: int = 0
    abstention_correct: bool
    must_mention_coverage: float | None = None
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


def score_question(q: EvalQuestion, response: AnswerResponse, latency_ms: float, passage: PassageLookup,
                   embed: Embed, thresholds: Thresholds) -> QuestionScore:
    gold = [(g.doc, g.section) for g in q.gold]
    retrieved = [(r.doc_id, r.section) for r in response.retrieved]
    cited = [(c.doc_id, c.section) for c in response.citations]

    def recall_at(k: int) -> float:
        top = retrieved[:k]
        return sum(any(citation_matches(d, s, gd, gs) for d, s in top) for gd, gs in gold) / len(gold)

    score = QuestionScore(
        id=q.id, type=q.type, question=q.question, answerable=q.answerable, abstained=response.abstained,
        abstention_correct=response.abstained != q.answerable, latency_ms=latency_ms,
        timings_ms=response.timings_ms, answer=response.answer,
        predicted=[f"{d} {s}" for d, s in cited], gold=[f"{d} {s}" for d, s in gold],
    )
    if q.answerable:
        score.retrieval_recall_at_5 = recall_at(5)
        score.retrieval_recall_at_10 = recall_at(10)
        rank = next((i for i, (d, s) in enumerate(retrieved, start=1)
                     if any(citation_matches(d, s, gd, gs) for gd, gs in gold)), None)
        score.reciprocal_rank = 1.0 / rank if rank else 0.0
        if cited:
            score.citation_precision = sum(
                any(citation_matches(d, s, gd, gs) for gd, gs in gold) for d, s in cited) / len(cited)
        score.citation_recall = sum(
            any(citation_matches(d, s, gd, gs) for d, s in cited) for gd, gs in gold) / len(gold)
        text = response.answer.lower()
        if q.must_mention:
            score.must_mention_coverage = sum(m.lower() in text for m in q.must_mention) / len(q.must_mention)

    passages = {c.n: passage(c.chunk_id) for c in response.citations}
    score.quotes = len(response.citations)
    score.valid_quotes = sum(1 for c in response.citations if passages[c.n] and c.quote in passages[c.n])
    if not response.abstained:
        sentences = answer_sentences(response.answer)
        score.sentences = len(sentences)
        undecided: list[tuple[int, str, str, float]] = []
        verdict = [False] * len(sentences)
        for i, (sentence, markers) in enumerate(sentences):
            for n in markers:
                text = passages.get(n)
                if not text:
                    continue
                uni, bi = lexical(sentence, text)
                if supported(uni, bi, 0.0, thresholds):
                    verdict[i] = True  # the words alone settle it; no need to embed
                    break
                if uni >= thresholds.unigram_floor:
                    undecided.append((i, sentence, text, uni))
        pending = [u for u in undecided if not verdict[u[0]]]
        if pending:
            vectors = embed([u[1] for u in pending] + [u[2] for u in pending])
            for j, (i, _, _, uni) in enumerate(pending):
                if supported(uni, 0.0, cosine(vectors[j], vectors[len(pending) + j]), thresholds):
                    verdict[i] = True
        for (sentence, _), ok in zip(sentences, verdict):
            if ok:
                score.supported_sentences += 1
            else:
                score.unsupported.append(sentence)
    return score


def aggregate(scores: Sequence[QuestionScore]) -> dict[str, float]:
    def mean(values: list[float | None]) -> float:
        present = [v for v in values if v is not None]
        return round(float(np.mean(present)), 4) if present else math.nan

    quotes = sum(s.quotes for s in scores)
    sentences = sum(s.sentences for s in scores)
    latencies = [s.latency_ms for s in scores]
    return {
        "retrieval_recall_at_5": mean([s.retrieval_recall_at_5 for s in scores]),
        "retrieval_recall_at_10": mean([s.retrieval_recall_at_10 for s in scores]),
        "mrr": mean([s.reciprocal_rank for s in scores]),
        "citation_precision": mean([s.citation_precision for s in scores]),
        "citation_recall": mean([s.citation_recall for s in scores]),
        "quote_validity": round(sum(s.valid_quotes for s in scores) / quotes, 4) if quotes else 1.0,
        "support_rate": round(sum(s.supported_sentences for s in scores) / sentences, 4) if sentences else math.nan,
        "abstention_accuracy": mean([1.0 if s.abstention_correct else 0.0 for s in scores]),
        "must_mention_coverage": mean([s.must_mention_coverage for s in scores]),
        "latency_ms_p50": round(float(np.percentile(latencies, 50)), 2) if latencies else math.nan,
        "latency_ms_p95": round(float(np.percentile(latencies, 95)), 2) if latencies else math.nan,
    }


def stage_latencies(scores: Sequence[QuestionScore]) -> dict[str, dict[str, float]]:
    stages: dict[str, list[float]] = {}
    for s in scores:
        for stage, ms in s.timings_ms.items():
            stages.setdefault(stage, []).append(ms)
    return {stage: {"p50": round(float(np.percentile(v, 50)), 2), "p95": round(float(np.percentile(v, 95)), 2)}
            for stage, v in stages.items()}
