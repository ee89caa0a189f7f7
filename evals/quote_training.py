"""Learn which sentence of a cited unit to quote (assistant/quote_ranking.py) from the dev set.

Each answerable dev question is searched and its evidence selected once, with the shipped
retrieval and selection policy; every quotable sentence of every cited unit is a candidate,
labelled by whether it overlaps a gold evidence span. A pairwise logistic model (answering
against non-answering sentences of the same unit; each unit weighs the same) gives the
weights; the regularisation and the second-quote threshold are chosen by k-fold
cross-validation over questions. The held-out rate at which the top sentence answers is
printed beside the hand weights'.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from assistant.evidence import select
from assistant.extractive import QuoteContext, _starts_mid_structure, sentence_candidates
from assistant.quote_ranking import QUOTE_FEATURES, QuoteModel
from assistant.service import Assistant
from evals.bench.common import progress_bar
from evals.dataset import EvalQuestion
from evals.gold import SourceTexts, gold_spans
from evals.metrics import aggregate, score_question
from evals.support import Thresholds
from evals.tune import folds

C_GRID = (0.001, 0.003, 0.01, 0.03, 0.1, 1.0)
# Thresholds for a best unit's second quote, in the model's log-odds (-inf: always).
SECOND_GRID = (float("-inf"), -3.0, -2.0, -1.5, -1.0, -0.5, 0.0)


@dataclass
class Unit:
    """One cited unit of one question: its candidate sentences' features and labels."""

    question_id: str
    best: bool  # the answer's first unit (quoted twice)
    x: np.ndarray
    y: np.ndarray
    mid: np.ndarray  # starts mid-structure: never a second quote
    spans: list[frozenset[int]]  # per sentence: the gold spans it overlaps


def training_units(assistant: Assistant, questions: Sequence[EvalQuestion], sources: SourceTexts) -> list[Unit]:
    units: list[Unit] = []
    with progress_bar() as bar:
        task = bar.add_task("questions searched", total=len(questions))
        for q in questions:
            bar.advance(task)
            if not q.answerable:
                continue
            spans = gold_spans(q, sources)
            result = assistant.retriever.search(q.question, None, assistant.settings.top_k)
            context = QuoteContext.of(q.question, result.snapshot.sparse.idf, result.references)
            for rank, passage in enumerate(select(result, assistant.policy).cited):
                quotes = sentence_candidates(passage, context)
                if not quotes:
                    continue
                x = np.array([[qt.features[f] for f in QUOTE_FEATURES] for qt in quotes])
                hit = [frozenset(i for i, s in enumerate(spans)
                                 if s.overlaps(qt.chunk.doc_id, qt.chunk.start + qt.start, qt.chunk.start + qt.end))
                       for qt in quotes]
                y = np.array([bool(h) for h in hit], dtype=int)
                mid = np.array([_starts_mid_structure(qt) for qt in quotes])
                units.append(Unit(q.id, rank == 0, x, y, mid, hit))
    return units


def fit(units: Sequence[Unit], c: float) -> QuoteModel:
    """Pairwise direction (standardised features), then Platt scaling on all candidates, folded
    back into weights over the raw features."""
    from sklearn.linear_model import LogisticRegression

    x = np.vstack([u.x for u in units])
    y = np.concatenate([u.y for u in units])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    diffs, weights = [], []
    for u in units:
        z = (u.x - mean) / scale
        pos, neg = z[u.y == 1], z[u.y == 0]
        if not len(pos) or not len(neg):
            continue
        d = (pos[:, None, :] - neg[None, :, :]).reshape(-1, z.shape[1])
        diffs.append(d)
        weights.append(np.full(len(d), 1.0 / len(d)))
    d, w = np.vstack(diffs), np.concatenate(weights)
    model = LogisticRegression(C=c, max_iter=5000, fit_intercept=False).fit(
        np.vstack([d, -d]), np.r_[np.ones(len(d)), np.zeros(len(d))], sample_weight=np.r_[w, w] * len(diffs))
    direction = model.coef_[0]
    platt = LogisticRegression(C=1e6, max_iter=5000).fit((((x - mean) / scale) @ direction)[:, None], y)
    raw = direction * platt.coef_[0][0] / scale
    bias = float(platt.intercept_[0] - raw @ mean)
    return QuoteModel(weights={f: float(v) for f, v in zip(QUOTE_FEATURES, raw)}, bias=bias)


def _scores(model: QuoteModel, unit: Unit) -> np.ndarray:
    return np.array([model.score(dict(zip(QUOTE_FEATURES, row))) for row in unit.x])


def top_hit(model: QuoteModel, units: Sequence[Unit]) -> float:
    """Share of units holding an answering sentence whose top sentence answers (ties: first)."""
    rows = [u for u in units if u.y.any()]
    return float(np.mean([u.y[int(np.argmax(_scores(model, u)))] for u in rows])) if rows else 0.0


def quotes_objective(model: QuoteModel, units: Sequence[Unit]) -> float:
    """For the best units (quoted twice): share of quotes that answer + share of the gold spans
    the unit's sentences reach that the quotes cover (citation precision + recall, per unit)."""
    values = []
    for u in units:
        if not u.best or not u.y.any():
            continue
        s = _scores(model, u)
        order = np.argsort(-s, kind="stable")
        chosen = [int(order[0])] + [int(i) for i in order[1:] if s[i] > model.second_min and not u.mid[i]][:1]
        reachable = frozenset().union(*u.spans)
        covered = frozenset().union(*(u.spans[i] for i in chosen))
        values.append(np.mean(u.y[chosen]) + len(covered) / len(reachable))
    return float(np.mean(values)) if values else 0.0


def choose(units: Sequence[Unit], k: int) -> tuple[QuoteModel, dict[str, float], dict[str, QuoteModel]]:
    """Regularisation by held-out top-sentence hit rate, then the second-quote threshold by
    held-out quotes objective; prints both beside the hand weights'. Also returns, per question,
    the model fitted without its fold (for the cross-fitted end-to-end score)."""
    ids = list(dict.fromkeys(u.question_id for u in units))
    parts = [set(p) for p in folds(ids, k)]

    def held_out(make: Callable[[Sequence[Unit]], QuoteModel],
                 score: Callable[[QuoteModel, Sequence[Unit]], float]) -> float:
        values = []
        for part in parts:
            train = [u for u in units if u.question_id not in part]
            test = [u for u in units if u.question_id in part]
            values.append(score(make(train), test))
        return float(np.mean(values))

    report = {"hand top-sentence hit": top_hit(QuoteModel(), units)}
    best_c = max(C_GRID, key=lambda c: held_out(lambda tr, c=c: fit(tr, c), top_hit))
    report["learned top-sentence hit (held out)"] = held_out(lambda tr: fit(tr, best_c), top_hit)
    report["hand quotes objective"] = quotes_objective(QuoteModel(), units)

    def with_second(train: Sequence[Unit]) -> QuoteModel:
        base = fit(train, best_c)
        t = max(SECOND_GRID, key=lambda t: quotes_objective(QuoteModel(base.weights, base.bias, t), train))
        return QuoteModel(base.weights, base.bias, t)

    report["learned quotes objective (held out)"] = held_out(with_second, quotes_objective)
    report["C"] = best_c
    per_question: dict[str, QuoteModel] = {}
    for part in parts:
        model = with_second([u for u in units if u.question_id not in part])
        per_question |= dict.fromkeys(part, model)
    return with_second(units), report, per_question


def end_to_end(assistant: Assistant, questions: Sequence[EvalQuestion], sources: SourceTexts,
               model_for: Callable[[str], QuoteModel]) -> dict[str, float]:
    """The answer metrics of the answerable questions, each composed with `model_for(its id)`;
    searches are memoised by the caller, so this costs one compose per question."""
    thresholds = Thresholds.load()
    rows = []
    for q in questions:
        if not q.answerable:
            continue
        assistant.quotes = model_for(q.id)
        rows.append(score_question(q, assistant.ask(q.question), 0.0, lambda cid: None,
                                   lambda t: np.zeros((len(t), 1)), thresholds, sources))
    metrics = aggregate(rows)
    return {k: metrics[k] for k in ("citation_precision", "citation_recall", "must_mention_coverage")} | {
        "passed": float(np.mean([r.passed for r in rows]))}


def learn_quotes(assistant: Assistant, questions: Sequence[EvalQuestion], sources: SourceTexts,
                 k: int) -> tuple[QuoteModel, dict[str, float], dict[str, float]]:
    """(the model to ship, its held-out answer metrics, the hand weights' answer metrics), with
    a report printed. Searches should be memoised by the caller (`evals.tune.memoised_search`).

    The second-quote threshold decides how many sub-paragraphs an answer cites, which the
    per-unit objective sees only in part: it is chosen on the answers themselves, each question
    composed with weights fitted without its fold."""
    model, report, held = choose(training_units(assistant, questions, sources), k)
    hand = end_to_end(assistant, questions, sources, lambda _: QuoteModel())
    by_threshold = {t: end_to_end(assistant, questions, sources,
                                  lambda qid, t=t: replace(held.get(qid, model), second_min=t))
                    for t in SECOND_GRID}
    best = max(by_threshold, key=lambda t: by_threshold[t]["citation_precision"] + by_threshold[t]["citation_recall"])
    model, learned = replace(model, second_min=best), by_threshold[best]
    print("\nquote choice (cited units holding an answering sentence)")
    for name, value in report.items():
        print(f"  {name}: {value:.3f}" if isinstance(value, float) else f"  {name}: {value}")
    print("answers (answerable dev questions; learned: each composed by a model fitted without its fold)")
    rows = [("hand", hand)] + [(f"learned, second quote above {t:g}", row) for t, row in by_threshold.items()]
    for name, row in rows:
        print(f"  {name}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()))
    print("weights:", {k: round(v, 3) for k, v in model.weights.items()}, "bias", round(model.bias, 3),
          "second_min", model.second_min)
    return model, learned, hand
