"""Train the query adapter (assistant/query_adapter.py) on the dev set, choose its
regularisation by cross-validation, and report dense-only recall before and after.

Each answerable dev question is a training pair: its vector, and the chunks that overlap its
gold spans. The loss is a softmax over every chunk of the index (11,003 for the bundled corpus;
an exact full softmax, no sampled negatives), plus `regularisation · ‖W − I‖²`, which keeps the
map near the identity so that questions unlike any in the dev set keep their own vectors.
Torch is already installed for the embedding model; training takes seconds on a CPU.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from assistant.query_adapter import QueryAdapter
from assistant.retrieval import Fusion
from assistant.service import Assistant
from evals.dataset import EvalQuestion
from evals.gold import SourceTexts, gold_spans
from evals.tune import folds, retrieval_scores

REGULARISATION_GRID = (0.003, 0.01, 0.03, 0.1)
DENSE_ONLY = Fusion(dense=1.0, body=0.0, title=0.0, facet=0.0, per_parent=99)


@dataclass(frozen=True)
class Pair:
    question_id: str
    vector: np.ndarray  # the model's own question vector
    positives: list[int]  # rows of the snapshot's vectors that overlap a gold span


def training_pairs(assistant: Assistant, questions: Sequence[EvalQuestion], sources: SourceTexts) -> list[Pair]:
    snapshot = assistant.retriever.reader.snapshot()
    chunks = [snapshot.by_id[cid] for cid in snapshot.sparse.ids]
    pairs = []
    for q in questions:
        if not q.answerable:
            continue
        spans = gold_spans(q, sources)
        rows = [i for i, c in enumerate(chunks) if any(s.overlaps(c.doc_id, c.start, c.end) for s in spans)]
        if rows:
            pairs.append(Pair(q.id, assistant.embed(q.question), rows))
    return pairs


def fit(vectors: np.ndarray, pairs: Sequence[Pair], regularisation: float, *, epochs: int = 30,
        temperature: float = 0.05, learning_rate: float = 1e-3, batch: int = 32, seed: int = 0) -> np.ndarray:
    """W (d × d) minimising the softmax loss of each question against all chunks, near I."""
    import torch

    torch.manual_seed(seed)
    corpus = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
    d = corpus.shape[1]
    identity = torch.eye(d)
    weights = torch.eye(d, requires_grad=True)
    optimiser = torch.optim.Adam([weights], lr=learning_rate)
    questions = torch.from_numpy(np.stack([p.vector for p in pairs]).astype(np.float32))
    positive = torch.zeros(len(pairs), len(corpus), dtype=torch.bool)
    for i, pair in enumerate(pairs):
        positive[i, pair.positives] = True
    for _ in range(epochs):
        order = torch.randperm(len(pairs))
        for start in range(0, len(pairs), batch):
            rows = order[start:start + batch]
            q = torch.nn.functional.normalize(questions[rows] @ weights, dim=1)
            logits = q @ corpus.T / temperature
            # -log P(any gold chunk): every chunk of a gold span counts as the answer
            loss = (torch.logsumexp(logits, 1) - torch.logsumexp(logits.masked_fill(~positive[rows], -1e9), 1)).mean()
            loss = loss + regularisation * ((weights - identity) ** 2).sum()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    return weights.detach().numpy().astype(np.float32)


def _vectors(assistant: Assistant) -> np.ndarray:
    vectors = assistant.retriever.reader.snapshot().vectors
    if vectors is None:
        raise SystemExit("the adapter trains on the in-memory vectors: the index is above the exact-search limit")
    return vectors


def out_of_fold(vectors: np.ndarray, pairs: Sequence[Pair], regularisation: float, model: str,
                k: int) -> list[tuple[list[str], QueryAdapter]]:
    """Per fold of the pairs' questions: its ids and an adapter trained on the other folds."""
    result = []
    for part in folds([p.question_id for p in pairs], k):
        held = set(part)
        train = [p for p in pairs if p.question_id not in held]
        result.append((part, QueryAdapter(fit(vectors, train, regularisation), model, regularisation)))
    return result


class CrossFitted:
    """For tuning what is trained after the adapter (fusion weights, the learned fusion, the
    selection policy): each dev question is embedded through an adapter trained without its
    fold, so the dense signal those steps learn to trust is the one a new question gets, not
    the adapter's memory of its own training questions. Other texts get the full adapter."""

    def __init__(self, adapters: dict[str, QueryAdapter], full: QueryAdapter) -> None:
        self.by_text, self.full = adapters, full
        self.digest = "cross-fitted:" + full.digest

    def adapt(self, text: str, vector: np.ndarray) -> np.ndarray:
        return self.by_text.get(text, self.full)(vector)


def cross_fitted(assistant: Assistant, questions: Sequence[EvalQuestion], sources: SourceTexts,
                 full: QueryAdapter, k: int = 5) -> CrossFitted:
    pairs = training_pairs(assistant, questions, sources)
    text = {q.id: q.question for q in questions}
    adapters: dict[str, QueryAdapter] = {}
    for part, adapter in out_of_fold(_vectors(assistant), pairs, full.regularisation, full.model, k):
        adapters |= {text[i]: adapter for i in part}
    # Unanswerable dev questions are in no training fold: the full adapter is already out of sample.
    return CrossFitted(adapters, full)


def dense_only(assistant: Assistant, questions: Sequence[EvalQuestion], sources: SourceTexts,
               adapter: QueryAdapter | None) -> dict[str, tuple[float, float, float]]:
    """Per answerable question: (recall@5, recall@10, RR) of dense search alone with `adapter`."""
    retriever = assistant.retriever
    kept, retriever.adapter = retriever.adapter, adapter
    try:
        return retrieval_scores(assistant, questions, sources, DENSE_ONLY)
    finally:
        retriever.adapter = kept


def choose(assistant: Assistant, questions: Sequence[EvalQuestion], sources: SourceTexts, model: str,
           k: int = 5, grid: Sequence[float] = REGULARISATION_GRID,
           ) -> tuple[QueryAdapter, dict[str, dict[str, tuple[float, float, float]]]]:
    """The adapter trained on all dev with the regularisation (of `grid`) whose held-out (k-fold)
    dense recall@10 + RR is best; and the held-out per-question scores of each setting (and of none)."""
    vectors = _vectors(assistant)
    pairs = training_pairs(assistant, questions, sources)
    by_id = {q.id: q for q in questions}
    held: dict[str, dict[str, tuple[float, float, float]]] = {
        "none": dense_only(assistant, [q for q in questions if q.answerable], sources, None)}
    for lam in grid:
        scores: dict[str, tuple[float, float, float]] = {}
        for part, adapter in out_of_fold(vectors, pairs, lam, model, k):
            scores |= dense_only(assistant, [by_id[i] for i in part], sources, adapter)
        held[f"{lam:g}"] = scores
        print(f"adapter regularisation {lam:g}: held-out dense recall@10 "
              f"{np.mean([s[1] for s in scores.values()]):.3f}, MRR {np.mean([s[2] for s in scores.values()]):.3f}",
              flush=True)
    best = max(grid, key=lambda lam: np.mean([s[1] + s[2] for s in held[f"{lam:g}"].values()]))
    return QueryAdapter(fit(vectors, pairs, best), model, best), held
