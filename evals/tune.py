"""Choose the fusion weights and the evidence-selection policy by cross-validation on the dev
set, print the ablation table, and write assistant/fusion.json.

Never tuned per question: every candidate setting is scored on all dev questions of the
training folds, and the reported score of the procedure is the one on held-out folds. The
frozen test split (evals/datasets/test.jsonl) is never read here.

    python -m evals.tune [--dataset evals/datasets/dev.jsonl] [--folds 5] [--write]

The learned fusion (assistant/rerank.py) is trained here too: a logistic model over every
candidate's features, labelled by whether the chunk overlaps a gold span; its regularisation is
chosen by cross-validation and its held-out recall and MRR are printed beside the RRF's.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from assistant.evidence import SelectionPolicy
from assistant.rerank import FEATURES, LearnedFusion
from assistant.retrieval import FUSION, Fusion
from indexer.reader import Filters
from assistant.service import Assistant
from evals.bench.common import progress_bar
from evals.dataset import EvalQuestion, load_dataset
from evals.gold import SourceTexts, gold_spans, hits, units
from evals.metrics import aggregate, score_question
from evals.support import Thresholds
from regqa.config import Settings, apply_offline_environment

K = 10


def retrieval_scores(assistant: Assistant, questions: Sequence[EvalQuestion], sources: SourceTexts,
                     fusion: Fusion) -> dict[str, tuple[float, float, float]]:
    """Per answerable question: (recall@5, recall@10, reciprocal rank) over distinct units."""
    result = {}
    for q in questions:
        if not q.answerable:
            continue
        spans = gold_spans(q, sources)
        found = assistant.retriever.search(q.question, None, K, fusion=fusion)
        ranked = units((h.chunk.doc_id, f"{h.chunk.section}\x1f{h.chunk.unit}", h.chunk.start, h.chunk.end)
                       for h in found.hits)
        def recall(k: int) -> float:
            got: set[int] = set()
            for unit in ranked[:k]:
                got |= hits(unit, spans)
            return len(got) / len(spans)
        rank = next((i for i, unit in enumerate(ranked, 1) if hits(unit, spans)), None)
        result[q.id] = (recall(5), recall(10), 1.0 / rank if rank else 0.0)
    return result


def _objective(rows: Sequence[tuple[float, float, float]]) -> float:
    return float(np.mean([r10 + rr for _, r10, rr in rows])) if rows else 0.0


def folds(ids: Sequence[str], k: int, seed: int = 13) -> list[list[str]]:
    """The k cross-validation folds of a list of question ids (one shuffle, seeded)."""
    shuffled = list(ids)
    random.Random(seed).shuffle(shuffled)
    return [shuffled[i::k] for i in range(k)]


def cross_validate(ids: list[str], candidates: list, score_of: Callable[[object, list[str]], float],
                   k: int, seed: int = 13) -> tuple[object, float]:
    """(best candidate on all ids, mean held-out score of choosing the best on the other folds)."""
    parts = folds(ids, k, seed)
    held_out = []
    for i in range(k):
        train = [x for j, part in enumerate(parts) if j != i for x in part]
        best = max(candidates, key=lambda c: score_of(c, train))
        held_out.append(score_of(best, parts[i]))
    return max(candidates, key=lambda c: score_of(c, ids)), float(np.mean(held_out))


def training_rows(assistant: Assistant, questions: Sequence[EvalQuestion], sources: SourceTexts,
                  fusion: Fusion) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per question: its candidates' feature matrix and 0/1 labels (overlaps a gold span).
    Unanswerable questions give only negatives: they teach the model what "nothing here" is."""
    retriever = assistant.retriever
    snapshot = retriever.reader.snapshot()
    rows = {}
    for q in questions:
        spans = gold_spans(q, sources) if q.answerable else []
        signals = retriever.signals(snapshot, q.question, Filters(), fusion.candidates)
        found = retriever.candidates(snapshot, q.question, signals)
        chunks = [snapshot.by_id[cid] for cid in found.ids]
        labels = np.array([any(s.overlaps(c.doc_id, c.start, c.end) for s in spans) for c in chunks], dtype=int)
        rows[q.id] = (found.matrix, labels)
    return rows


def fit(rows: Sequence[tuple[np.ndarray, np.ndarray]], c: float, drop: frozenset[str] = frozenset(),
        pairwise: bool = False) -> LearnedFusion:
    """A standardised L2 logistic regression (scikit-learn) as a LearnedFusion; features in
    `drop` get weight 0 (the ablation).

    Pointwise: P(a candidate overlaps an answering unit) over all candidates of all questions.
    Pairwise (`pairwise=True`): the weights are learned on differences between an answering and
    a non-answering candidate of the same question — only the order within a question counts,
    which is what ranking needs — and each question weighs the same; the scale and bias are then
    fitted pointwise on that one score (Platt), so the output stays a comparable probability."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x = np.vstack([r[0] for r in rows])
    y = np.concatenate([r[1] for r in rows])
    keep = np.array([name not in drop for name in FEATURES])
    scaler = StandardScaler().fit(x)
    scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
    z = ((x - scaler.mean_) / scale)[:, keep]
    weights = np.zeros(len(FEATURES))
    if not pairwise:
        model = LogisticRegression(C=c, max_iter=5000).fit(z, y)
        weights[keep] = model.coef_[0]
        bias = float(model.intercept_[0])
    else:
        rng = np.random.default_rng(13)
        diffs, pair_weights, start = [], [], 0
        for _, labels in rows:
            own = z[start : start + len(labels)]
            start += len(labels)
            positive, negative = own[labels == 1], own[labels == 0]
            if not len(positive) or not len(negative):
                continue
            if len(negative) > PAIR_NEGATIVES:
                negative = negative[rng.choice(len(negative), PAIR_NEGATIVES, replace=False)]
            d = (positive[:, None, :] - negative[None, :, :]).reshape(-1, z.shape[1])
            diffs.append(d)
            pair_weights.append(np.full(len(d), 1.0 / len(d)))
        d = np.vstack(diffs)
        w = np.concatenate(pair_weights)
        model = LogisticRegression(C=c, max_iter=5000, fit_intercept=False).fit(
            np.vstack([d, -d]), np.r_[np.ones(len(d)), np.zeros(len(d))], sample_weight=np.r_[w, w] * len(rows))
        direction = model.coef_[0]
        platt = LogisticRegression(C=1e6, max_iter=5000).fit((z @ direction)[:, None], y)
        weights[keep] = direction * platt.coef_[0][0]
        bias = float(platt.intercept_[0])
    return LearnedFusion(FEATURES, tuple(map(float, scaler.mean_)), tuple(map(float, scale)),
                         tuple(map(float, weights)), bias)


PAIR_NEGATIVES = 150  # non-answering candidates sampled per question for the pairwise fit


# Feature groups for the learned fusion's ablation table (each retrained without its group).
GROUPS: dict[str, frozenset[str]] = {
    "dense": frozenset({"dense", "dense_gap", "dense_rr", "unit_dense", "parent_dense"}),
    "body BM25": frozenset({"body", "body_rr", "unit_body", "parent_body"}),
    "title / heading": frozenset({"title_rr", "title_score", "title_coverage", "short_title", "named_in_heading"}),
    "raw dense (no adapter)": frozenset({"raw_dense", "raw_dense_rr"}),
    "glossary facets": frozenset({"facet_rr"}),
    "small-to-big (unit, parent)": frozenset({"unit_dense", "unit_body", "unit_coverage", "parent_dense", "parent_body"}),
    "term coverage": frozenset({"coverage", "title_coverage", "unit_coverage", "short_title", "sibling_contrast"}),
    "question type": frozenset({"definition_match", "list_match", "other_jurisdiction", "rule_match",
                                "item_entry", "exception_limit"}),
    "named codes": frozenset({"named_in_heading", "code_in_rule"}),
}


class FitChoice(NamedTuple):
    """How the learned fusion is fitted: its regularisation and whether pairwise (see fit)."""

    c: float
    pairwise: bool

    def __str__(self) -> str:
        return f"C={self.c:g} {'pairwise' if self.pairwise else 'pointwise'}"

    @classmethod
    def parse(cls, text: str) -> "FitChoice":
        """`0.01:pairwise` or `1:pointwise` (the tuner's --fit)."""
        c, _, kind = text.partition(":")
        if kind not in ("pairwise", "pointwise"):
            raise argparse.ArgumentTypeError(f"--fit takes C:pairwise or C:pointwise, not {text!r}")
        try:
            return cls(float(c), kind == "pairwise")
        except ValueError:
            raise argparse.ArgumentTypeError(f"--fit: {c!r} is not a number") from None


FIT_GRID = tuple(FitChoice(c, pairwise) for pairwise in (False, True) for c in (0.01, 0.1, 1.0, 10.0))


class Learner:
    """Cross-validated training of the learned fusion on one dev set's candidates."""

    def __init__(self, assistant: Assistant, questions: Sequence[EvalQuestion], sources: SourceTexts,
                 base: Fusion, k: int, seed: int = 13) -> None:
        self.assistant, self.sources, self.base = assistant, sources, base
        self.rows = training_rows(assistant, questions, sources, base)
        self.answerable = [q for q in questions if q.answerable]
        self.parts = folds([q.id for q in questions], k, seed)

    def held_out(self, c: float, drop: frozenset[str] = frozenset(),
                 pairwise: bool = False) -> dict[str, tuple[float, float, float]]:
        """Per answerable question: (recall@5, recall@10, RR) from a model that never saw it."""
        scores: dict[str, tuple[float, float, float]] = {}
        for i, part in enumerate(self.parts):
            model = fit([self.rows[x] for j, other in enumerate(self.parts) if j != i for x in other], c, drop,
                        pairwise)
            test = [q for q in self.answerable if q.id in set(part)]
            scores |= retrieval_scores(self.assistant, test, self.sources, replace(self.base, learned=model))
        return scores

    def choose(self, choices: Sequence[FitChoice] = FIT_GRID, drop: frozenset[str] = frozenset()
               ) -> tuple[FitChoice, dict[str, tuple[float, float, float]]]:
        """The (regularisation, pointwise or pairwise) of `choices` with the best held-out
        recall@10 + RR, and its held-out scores; features in `drop` stay at weight 0."""
        best: tuple[FitChoice, float, dict] | None = None
        for choice in choices:
            held = self.held_out(choice.c, drop, choice.pairwise)
            score = _objective(list(held.values()))
            print(f"learned fusion {choice}: held-out recall@10+RR {score:.3f}", flush=True)
            if best is None or score > best[1]:
                best = (choice, score, held)
        assert best is not None
        return best[0], best[2]

    def final(self, choice: FitChoice, drop: frozenset[str] = frozenset()) -> LearnedFusion:
        return fit(list(self.rows.values()), choice.c, drop, choice.pairwise)


def _table_row(name: str, rows: Sequence[tuple[float, float, float]]) -> str:
    return (f"| {name} | {np.mean([r[0] for r in rows]):.3f} | {np.mean([r[1] for r in rows]):.3f} | "
            f"{np.mean([r[2] for r in rows]):.3f} |")


def learned_fusion(assistant: Assistant, questions: Sequence[EvalQuestion], sources: SourceTexts,
                   base: Fusion, k: int, choices: Sequence[FitChoice] = FIT_GRID,
                   ablation: bool = True, drop: frozenset[str] = frozenset()) -> tuple[LearnedFusion, float]:
    """Train, print held-out scores and the ablation; (model on all dev, held-out objective).
    One choice is only measured held-out, not chosen; without ablation the table has two rows.
    `drop` (the tuner's --drop) leaves those features out of every fit, the shipped one too."""
    learner = Learner(assistant, questions, sources, base, k)
    choice, held = learner.choose(choices, drop)
    rrf = retrieval_scores(assistant, learner.answerable, sources, base)
    print("\nlearned fusion, held-out folds (each feature group off, retrained)\n"
          "| setting | recall@5 | recall@10 | MRR |\n|---|---:|---:|---:|")
    print(_table_row("RRF, weights chosen on all dev (in-sample)", list(rrf.values())))
    print(_table_row(f"learned, {'all features' if not drop else 'without ' + ', '.join(sorted(drop))} ({choice})",
                     list(held.values())))
    for name, group in GROUPS.items() if ablation else ():
        print(_table_row(f"learned, no {name}",
                         list(learner.held_out(choice.c, group | drop, choice.pairwise).values())))
    model = learner.final(choice, drop)
    print("weights:", dict(zip(FEATURES, (round(w, 3) for w in model.weights))))
    return model, _objective(list(held.values()))


SELECTION_GRID = {"score_ratio": (0.6, 0.7, 0.8, 0.9), "similarity_margin": (0.02, 0.05, 0.1),
                  "max_units": (2, 3), "min_confidence": (0.25, 0.3, 0.35, 0.4)}


@contextmanager
def memoised_search(assistant: Assistant) -> Iterator[None]:
    """Each question is searched once while the block runs: what is tuned inside (selection,
    quotes) changes only what is made of the same search result."""
    search = assistant.retriever.search
    searched: dict[tuple, object] = {}

    def memo_search(query: str, filters: Filters | None = None, k: int = 8, fusion: Fusion | None = None):  # noqa: ANN202
        key = (query, repr(filters), k, id(fusion))
        if key not in searched:
            searched[key] = search(query, filters, k, fusion)
        return searched[key]

    assistant.retriever.search = memo_search  # type: ignore[method-assign]
    try:
        yield
    finally:
        assistant.retriever.search = search  # type: ignore[method-assign]


def choose_selection(assistant: Assistant, questions: Sequence[EvalQuestion], sources: SourceTexts,
                     k: int, also: Sequence[EvalQuestion] = ()) -> tuple[SelectionPolicy, float]:
    """The evidence-selection policy with the best held-out citation precision + recall + 2 ×
    abstention accuracy (k folds). Each question is searched once: the policy only changes what
    is selected and composed from the same search result. `also` (a probe set) is scored for
    every policy and printed beside, never used to choose."""
    thresholds = Thresholds.load()
    keys = list(SELECTION_GRID)
    policies = [SelectionPolicy(**dict(zip(keys, values))) for values in itertools.product(*SELECTION_GRID.values())]
    assistant.settings = assistant.settings.model_copy(update={"min_similarity": None})
    everything = [*questions, *also]
    scores_cache: dict[SelectionPolicy, dict[str, object]] = {}

    def answer_scores(policy: SelectionPolicy) -> dict[str, object]:
        if policy not in scores_cache:
            assistant.policy = policy
            scores_cache[policy] = {
                q.id: score_question(q, assistant.ask(q.question), 0.0, lambda cid: None,
                                     lambda t: np.zeros((len(t), 1)), thresholds, sources)
                for q in everything}
        return scores_cache[policy]

    def objective(rows: list) -> float:
        metrics = aggregate(rows)  # type: ignore[arg-type]
        return metrics["citation_precision"] + metrics["citation_recall"] + 2 * metrics["abstention_accuracy"]

    def selection_score(candidate: object, ids: list[str]) -> float:
        rows = answer_scores(candidate)  # type: ignore[arg-type]
        return objective([rows[i] for i in ids])

    with memoised_search(assistant), progress_bar() as bar:  # every policy answers every question once (minutes)
        task = bar.add_task("selection policies", total=len(policies))
        for candidate in policies:
            answer_scores(candidate)
            bar.advance(task)
        all_ids = [q.id for q in questions]
        policy, cv_sel = cross_validate(all_ids, policies, selection_score, k)
    also_ids = [q.id for q in also]
    print("\nselection policies (in-sample dev objective; the probe set's beside it)")
    for candidate in sorted(policies, key=lambda c: -selection_score(c, all_ids))[:12]:
        line = f"  {asdict(candidate)}: dev {selection_score(candidate, all_ids):.3f}"
        if also_ids:
            line += f", probe {selection_score(candidate, also_ids):.3f}"
        print(line)
    metrics = aggregate([answer_scores(policy)[i] for i in all_ids])  # type: ignore[misc]
    print(f"\nselection: best {asdict(policy)}; held-out P+R+2·abstention {cv_sel:.3f}")
    print({k: metrics[k] for k in ("citation_precision", "citation_recall", "abstention_accuracy",
                                   "cited_units_median", "answer_words_median")})
    return policy, cv_sel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", type=Path, default=Path("evals/datasets/dev.jsonl"))
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--write", action="store_true", help="write the chosen settings to assistant/fusion.json")
    parser.add_argument("--learn-only", action="store_true",
                        help="only train the learned fusion and print its held-out scores; with --write, "
                             "replace only the learned model in assistant/fusion.json")
    parser.add_argument("--selection-only", action="store_true",
                        help="only re-choose the evidence-selection policy on the shipped retrieval (each "
                             "question searched once; the shipped models are in sample on dev, the full run "
                             "cross-fits the adapter first); with --write, replace only the selection section")
    parser.add_argument("--quotes-only", action="store_true",
                        help="only learn which sentence of a cited unit to quote (assistant/quote_ranking.py) on "
                             "the shipped retrieval and selection; with --write, replace only the quotes section")
    parser.add_argument("--probe", type=Path, action="append", default=[],
                        help="a probe set scored beside the dev set for each selection policy (never used to choose)")
    parser.add_argument("--adapter", action="store_true",
                        help="only train the query adapter (dense search) and print its held-out scores; "
                             "with --write, replace assistant/query_adapter.npz. Run the full tuning after it: "
                             "the fusion's dense features change with it")
    parser.add_argument("--fit", type=FitChoice.parse, action="append", metavar="C:pairwise|C:pointwise",
                        help="the learned fusion's fits to try (repeatable; default: C in 0.01, 0.1, 1, 10, "
                             "pointwise and pairwise). One fit is measured held-out, not chosen")
    parser.add_argument("--no-ablation", action="store_true",
                        help="skip the learned fusion's ablation table (one retraining per feature group)")
    parser.add_argument("--regularisation", type=float, action="append", metavar="R",
                        help="with --adapter: the regularisations to try (repeatable; default: "
                             "0.003, 0.01, 0.03, 0.1)")
    parser.add_argument("--drop", choices=sorted(GROUPS), action="append", default=[], metavar="GROUP",
                        help="leave a feature group out of the learned fusion (repeatable; the groups of the "
                             f"ablation table: {', '.join(repr(g) for g in GROUPS)})")
    args = parser.parse_args()
    drop = frozenset().union(*(GROUPS[name] for name in args.drop))
    if any("test" in path.stem for path in [args.dataset, *args.probe]):
        raise SystemExit("the frozen test split is never used for tuning")
    apply_offline_environment()
    settings = Settings()
    # Not strict: a learned model trained on other features is what this run replaces.
    assistant = Assistant(settings, chat_model=None, fusion=Fusion.load(strict=False))
    sources = SourceTexts(settings.default_corpus)
    questions = load_dataset(args.dataset)
    answerable = [q for q in questions if q.answerable]

    if args.adapter:
        from evals.adapter_training import REGULARISATION_GRID, choose
        from indexer.embeddings import model_identity

        adapter, held = choose(assistant, questions, sources, model_identity(settings.model_path), args.folds,
                               args.regularisation or REGULARISATION_GRID)
        print("\nquery adapter, dense search alone, held-out folds\n| regularisation | recall@5 | recall@10 | MRR |"
              "\n|---|---:|---:|---:|")
        for name, rows in held.items():
            print(_table_row(name, list(rows.values())))
        print(f"chosen: {adapter.regularisation:g}")
        if args.write:
            adapter.save()
            print("written: assistant/query_adapter.npz")
        return

    if args.selection_only:
        probes = [q for path in args.probe for q in load_dataset(path)]
        policy, cv_sel = choose_selection(assistant, questions, sources, args.folds, probes)
        if args.write:
            record = json.loads(FUSION.read_text(encoding="utf-8"))
            record["selection"] = asdict(policy)
            record.setdefault("held_out", {})["selection"] = round(cv_sel, 4)
            FUSION.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
            print(f"written: {FUSION} (selection only)")
        return

    if args.quotes_only:
        from evals.quote_training import learn_quotes

        with memoised_search(assistant):
            quote_model, learned, hand = learn_quotes(assistant, questions, sources, args.folds)
        gain = (learned["citation_precision"] + learned["citation_recall"]
                - hand["citation_precision"] - hand["citation_recall"])
        if args.write and gain > 0:
            record = json.loads(FUSION.read_text(encoding="utf-8"))
            record["quotes"] = quote_model.to_dict()
            record.setdefault("held_out", {})["quotes"] = {k: round(v, 4) for k, v in learned.items()}
            FUSION.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
            print(f"written: {FUSION} (quotes only)")
        elif args.write:
            print(f"not written: held-out citation precision + recall {gain:+.3f} against the hand weights")
        return

    # The adapter was trained on these very questions: everything tuned below sees each
    # question's dense signal through an adapter trained without it (stacking, not leakage).
    if assistant.retriever.adapter is not None:
        from evals.adapter_training import cross_fitted

        assistant.retriever.adapter = cross_fitted(assistant, questions, sources, assistant.retriever.adapter,
                                                   args.folds)
        print("query adapter: cross-fitted over the folds for this tuning")

    if args.learn_only:
        base = replace(Fusion.load(strict=False), learned=None)
        model, cv_learned = learned_fusion(assistant, questions, sources, base, args.folds,
                                           args.fit or FIT_GRID, not args.no_ablation, drop)
        if args.write:  # the learned section only; RRF weights and selection stay as they are
            record = json.loads(FUSION.read_text(encoding="utf-8"))
            record["learned"] = model.to_dict()
            record.setdefault("held_out", {})["learned_retrieval"] = round(cv_learned, 4)
            FUSION.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
            print(f"written: {FUSION} (learned fusion only)")
        return

    # -- retrieval: fusion weights ---------------------------------------------------------
    grid = [Fusion(dense=d, body=b, title=t, facet=f, per_parent=p, other_jurisdiction=j)
            for d, b, t, f, p, j in itertools.product((0.5, 1.0, 1.5), (0.5, 1.0), (0.0, 0.5, 1.0, 2.0),
                                                      (0.0, 0.5), (2, 3), (1.0, 0.6, 0.4))]
    cache: dict[Fusion, dict[str, tuple[float, float, float]]] = {}

    def per_question(fusion: Fusion) -> dict[str, tuple[float, float, float]]:
        if fusion not in cache:
            cache[fusion] = retrieval_scores(assistant, answerable, sources, fusion)
        return cache[fusion]

    def retrieval_score(fusion: object, ids: list[str]) -> float:
        rows = per_question(fusion)  # type: ignore[arg-type]
        return _objective([rows[i] for i in ids])

    ids = [q.id for q in answerable]
    best_fusion, cv = cross_validate(ids, grid, retrieval_score, args.folds)
    print(f"fusion: best {asdict(best_fusion)}; held-out recall@10+RR {cv:.3f} "
          f"(in-sample {retrieval_score(best_fusion, ids):.3f})")
    print("\nablation (each signal off, others as chosen)\n| setting | recall@5 | recall@10 | MRR |\n|---|---:|---:|---:|")
    for name, fusion in [("chosen", best_fusion), ("no dense", replace(best_fusion, dense=0.0)),
                         ("no body BM25", replace(best_fusion, body=0.0)), ("no title", replace(best_fusion, title=0.0)),
                         ("no glossary facets", replace(best_fusion, facet=0.0)),
                         ("no jurisdiction factor", replace(best_fusion, other_jurisdiction=1.0)),
                         ("dense only", Fusion(dense=1.0, body=0.0, title=0.0, facet=0.0, per_parent=99))]:
        rows = list(per_question(fusion).values())
        print(f"| {name} | {np.mean([r[0] for r in rows]):.3f} | {np.mean([r[1] for r in rows]):.3f} | "
              f"{np.mean([r[2] for r in rows]):.3f} |")

    # -- retrieval: the learned fusion that replaces RRF ---------------------------------
    model, cv_learned = learned_fusion(assistant, questions, sources, best_fusion, args.folds,
                                       args.fit or FIT_GRID, not args.no_ablation, drop)

    # -- evidence selection and the abstention floor --------------------------------------
    assistant.retriever.fusion = replace(best_fusion, learned=model)
    policy, cv_sel = choose_selection(assistant, questions, sources, args.folds)
    if args.write:
        record = {"chosen_by": "python -m evals.tune (cross-validation on the dev set)",
                  "weights": {k: v for k, v in asdict(best_fusion).items() if k != "learned"},
                  "learned": model.to_dict(), "selection": asdict(policy),
                  "held_out": {"retrieval": round(cv, 4), "learned_retrieval": round(cv_learned, 4),
                               "selection": round(cv_sel, 4)}}
        FUSION.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        print(f"written: {FUSION}")


if __name__ == "__main__":
    main()
