"""Benchmark 2 — query latency and retrieval quality over the dev set and the frozen test split.

RegQA: `HybridRetriever.search` (retrieval) and `Assistant.ask` in extractive mode (full answer,
citations verified), scored with the eval harness's own `score_question`, so recall and MRR here
are the CI gate's numbers. Baseline: LangChain `similarity_search(q, k=10)` plus stuffing the hits
into a prompt; with no LLM, its "answer" time is retrieval + stuffing, a lower bound.

Both are scored by one rule: a retrieved passage or chunk counts for a gold item only where its
characters overlap the item's verbatim evidence in the same file (`evals.gold`). RegQA's ranked
list is its distinct units (document, section) in rank order, LangChain's its top-10 chunks.

Every question is asked with the query-embedding cache emptied first, so each measurement
embeds its question as a new question would (the server's LRU would hide that cost). The two
pipelines are measured back to back per question, so a shared CPU slows both alike. The latency
headline is the dev set's (× 3 repeats); the test split's latencies are kept in the JSON."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from evals.bench import baseline
from evals.bench.common import (
    DEV_SET,
    PROJECT,
    TEST_SET,
    Stopwatch,
    Variant,
    console,
    embedding_backend,
    ensure_index,
    figure,
    indexed_files,
    load_average,
    machine,
    print_ratio,
    print_table,
    progress_bar,
    ratio,
    save_figure,
    summarize,
    target,
    write_json,
)
from evals.dataset import EvalQuestion, load_dataset
from evals.gold import GoldError, SourceTexts, Span, gold_spans
from evals.runner import InProcess

if TYPE_CHECKING:
    from evals.metrics import QuestionScore

RETRIEVAL_P95_MS = 50.0
ANSWER_P95_MS = 200.0
K = 10
WARM_UP = ("What is a dual-use item?", "Which ECCN covers intrusion software?")
GOLD_SETS = (("dev", DEV_SET), ("test", TEST_SET))
LATENCY_SET = "dev"
QUALITY = ("recall_at_5", "recall_at_10", "mrr")


class TimedEncoder:
    """Wraps the assistant's embedder to attribute retrieval time to embedding the question
    (and its facets), which is what a shared CPU slows most."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls = 0
        self.seconds = 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def encode(self, texts: Any, on_batch: Any = None) -> Any:
        started = time.perf_counter()
        try:
            return self.inner.encode(texts, on_batch=on_batch)
        finally:
            self.calls += 1
            self.seconds += time.perf_counter() - started

    def reset(self) -> None:
        self.calls, self.seconds = 0, 0.0


def clear_query_cache(assistant: Any) -> None:
    cache = getattr(assistant.embed, "_cache", None)
    if cache is not None:
        cache.clear()


@dataclass
class Side:
    """One pipeline's latency samples and context size on one gold set."""

    retrieval_ms: list[float] = field(default_factory=list)
    answer_ms: list[float] = field(default_factory=list)
    context_chars: list[int] = field(default_factory=list)
    units: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "retrieval_ms": summarize(self.retrieval_ms), "answer_ms": summarize(self.answer_ms),
            "mean_context_chars": round(float(np.mean(self.context_chars))) if self.context_chars else None,
            "samples": {"retrieval_ms": _rounded(self.retrieval_ms), "answer_ms": _rounded(self.answer_ms)}}
        if self.units:
            result["mean_units_in_top_k"] = round(float(np.mean(self.units)), 2)
        return result


@dataclass
class GoldSet:
    """One gold set's questions, their evidence spans, and what both pipelines did with them."""

    name: str
    path: Path
    questions: list[EvalQuestion]
    spans: dict[str, list[Span]]
    regqa: Side = field(default_factory=Side)
    chain: Side = field(default_factory=Side)
    scores: list[QuestionScore] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # LangChain's scores per answerable question (id -> recall_at_5, recall_at_10, mrr), same rule
    chain_quality: dict[str, dict[str, float]] = field(default_factory=dict)
    misplaced_chunks: int = 0  # baseline chunks whose start_index does not point at their text

    def summary(self) -> dict[str, Any]:
        from evals.metrics import aggregate, stage_latencies

        metrics = aggregate(self.scores)
        regqa = {"recall_at_5": metrics["retrieval_recall_at_5"],
                 "recall_at_10": metrics["retrieval_recall_at_10"], "mrr": metrics["mrr"]}
        chain = {k: round(float(np.mean([c[k] for c in self.chain_quality.values()])), 4)
                 if self.chain_quality else float("nan") for k in QUALITY}
        return {
            "file": str(self.path.relative_to(PROJECT)), "questions": len(self.questions),
            "answerable": sum(q.answerable for q in self.questions),
            "regqa": {**regqa, **self.regqa.summary(), "errors": self.errors,
                      "answer_stages_ms": stage_latencies(self.scores), "eval_metrics": metrics},
            "langchain": {**chain, **self.chain.summary(), "misplaced_chunks": self.misplaced_chunks},
            "difference_points": {k: round((regqa[k] - chain[k]) * 100, 1) for k in QUALITY},
            "per_question": self._per_question(),
        }

    def _per_question(self) -> list[dict[str, Any]]:
        """Both sides' scores for each answerable question, to see which questions decide it."""
        rows = []
        for score in self.scores:
            chain = self.chain_quality.get(score.id)
            if chain is not None:
                rows.append({"id": score.id, "type": score.type, "regqa": {
                    "recall_at_5": score.retrieval_recall_at_5, "recall_at_10": score.retrieval_recall_at_10,
                    "mrr": score.reciprocal_rank}, "langchain": {k: round(v, 4) for k, v in chain.items()}})
        return rows


def run(variant: Variant, out_dir: Path) -> dict[str, Any]:
    """RegQA and the baseline are measured question by question, back to back, so that both
    see the same load when the machine is shared (a sequential design would not)."""
    from assistant.service import Assistant
    from evals.metrics import score_error, score_question
    from evals.support import Thresholds

    settings = variant.settings()
    ensure_index(settings)
    sources = SourceTexts(settings.default_corpus)
    sets = [_gold_set(name, path, settings, sources) for name, path in GOLD_SETS]
    repeats = 1 if variant.quick else 3
    result: dict[str, Any] = {"benchmark": "query", "variant": variant.name, "machine": machine(),
                              "embedding_backend": embedding_backend(settings), "repeats": repeats, "k": K,
                              "latency_set": LATENCY_SET, "matching_rule": MATCHING_RULE}
    sizes = ", ".join(f"{s.name} {len(s.questions)}" for s in sets)
    console.rule(f"[bold]query[/bold] — {variant.name} corpus, questions: {sizes}; × {repeats}")

    with Stopwatch() as sw:
        assistant = Assistant(settings)
        assistant.ask(WARM_UP[0], mode="extractive")
    result["regqa_first_answer_incl_model_and_index_load_ms"] = round(sw.seconds * 1000, 1)
    store = baseline.open_or_build(indexed_files(settings), _cache_dir(settings), settings.model_path)
    _warm_up(lambda q: (clear_query_cache(assistant), assistant.ask(q, mode="extractive"),
                        store.similarity_search(q, k=K)), [q for s in sets for q in s.questions])

    passages = InProcess(assistant).passage
    embed = assistant.embed.embedder.encode
    timer = TimedEncoder(assistant.embed.embedder)
    assistant.embed.embedder = timer
    embed_ms: list[float] = []
    embed_calls: list[int] = []
    retrieval_ms: list[float] = []
    thresholds = Thresholds.load()
    with progress_bar() as bar:
        for gold in sets:
            task = bar.add_task(f"{gold.name}: RegQA and LangChain", total=len(gold.questions) * repeats)
            for rep in range(repeats):
                for q in gold.questions:
                    bar.advance(task)
                    # RegQA retrieval alone, then the full extractive answer (retrieval included).
                    clear_query_cache(assistant)
                    _pause()
                    timer.reset()
                    with Stopwatch() as sw:
                        found = assistant.retriever.search(assistant.clean_question(q.question), None,
                                                           settings.top_k)
                    gold.regqa.retrieval_ms.append(sw.seconds * 1000)
                    if gold.name == LATENCY_SET:
                        retrieval_ms.append(sw.seconds * 1000)
                        embed_ms.append(timer.seconds * 1000)
                        embed_calls.append(timer.calls)
                    clear_query_cache(assistant)
                    _pause()
                    response, error = None, None
                    with Stopwatch() as sw:
                        try:
                            response = assistant.ask(q.question, mode="extractive")
                        except Exception as exc:  # noqa: BLE001 - a failed question is a result
                            error = f"{type(exc).__name__}: {exc}"
                    if response is not None:
                        gold.regqa.answer_ms.append(sw.seconds * 1000)
                    # The baseline: similarity_search, then stuffing the hits into a prompt.
                    _pause()
                    with Stopwatch() as search:
                        documents = store.similarity_search(q.question, k=K)
                    with Stopwatch() as stuffing:
                        baseline.stuff(q.question, documents)
                    gold.chain.retrieval_ms.append(search.seconds * 1000)
                    gold.chain.answer_ms.append((search.seconds + stuffing.seconds) * 1000)
                    if rep:
                        continue
                    # Scored once: an error scores zero everywhere, never drops out of the mean.
                    if response is None:
                        gold.errors.append(f"{q.id}: {error}"[:300])
                        gold.scores.append(score_error(q, error or "", sw.seconds * 1000))
                    else:
                        gold.scores.append(score_question(q, response, sw.seconds * 1000, passages, embed,
                                                          thresholds, sources))
                    hits = found.hits[:K]
                    gold.regqa.context_chars.append(sum(len(h.chunk.text) for h in hits))
                    gold.regqa.units.append(len({(h.chunk.doc_id, h.chunk.section) for h in hits}))
                    gold.chain.context_chars.append(sum(len(d.page_content) for d in documents))
                    ranked = [baseline.chunk_range(d) for d in documents]
                    gold.misplaced_chunks += sum(not _placed(r, d, sources) for r, d in zip(ranked, documents))
                    if q.answerable:
                        spans = gold.spans[q.id]
                        gold.chain_quality[q.id] = {"recall_at_5": baseline.recall_at(spans, ranked, 5),
                                                    "recall_at_10": baseline.recall_at(spans, ranked, K),
                                                    "mrr": baseline.reciprocal_rank(spans, ranked)}
    result["sets"] = {gold.name: gold.summary() for gold in sets}
    result["regqa_retrieval_breakdown"] = {
        "set": LATENCY_SET,
        "embedding_calls_per_question": round(float(np.mean(embed_calls)), 2) if embed_calls else None,
        "embedding_ms": summarize(embed_ms),
        "rest_ms": summarize([r - e for r, e in zip(retrieval_ms, embed_ms)]),
        "note": "embedding = encoding the question and its facets (cache emptied); rest = "
                "reference lookup, exact dense search, BM25, fusion, diversity"}
    result["langchain_answer_note"] = "no LLM: similarity_search + stuffing the hits into a prompt string"
    result["load_average_1m_at_end"] = load_average()
    _report(result)
    write_json(out_dir, "query", result)
    _plot(result, out_dir)
    return result


MATCHING_RULE = (
    "A retrieved RegQA passage or LangChain chunk is a hit for a gold item when its [start, end) "
    "character range overlaps the item's verbatim evidence span in the same corpus file "
    "(evals.gold.gold_spans). RegQA (evals.metrics.score_question): ranked list = distinct units "
    "(doc, section) in rank order, a unit hits when any of its passages does. LangChain: ranked "
    "list = its top-10 chunks (file = metadata source, offset = metadata start_index). recall@k = "
    "share of gold spans overlapped by the top k; MRR = 1/rank of the first hit; both over the "
    "answerable questions, a RegQA error scoring 0."
)


def _pause() -> None:
    """Let the other runtime's worker threads go idle: torch and onnxruntime both spin-wait for
    a while after a call, and one measured right after the other would pay for that."""
    time.sleep(0.05)


def _gold_set(name: str, path: Path, settings: Any, sources: SourceTexts) -> GoldSet:
    """A gold set; on a corpus subset (--quick), only the questions whose gold documents it
    holds. Every gold evidence must be found in its file, or the benchmark refuses to run."""
    from indexer.store import IndexStore

    indexed = set(IndexStore(settings.index_dir).read_manifest().documents)
    questions = [q for q in load_dataset(path) if all(g.doc in indexed for g in q.gold)]
    spans: dict[str, list[Span]] = {}
    problems = []
    for q in questions:
        try:
            spans[q.id] = gold_spans(q, sources)
        except GoldError as exc:
            problems.append(str(exc))
    if problems:
        raise SystemExit(f"{path}: {len(problems)} gold items cannot be located:\n" + "\n".join(problems[:20]))
    return GoldSet(name, path, questions, spans)


def _placed(where: baseline.ChunkRange, document: Any, sources: SourceTexts) -> bool:
    """Whether a baseline chunk's recorded offset points at its own text in the source file."""
    doc, start, end = where
    text = sources.text(doc)
    return text is not None and start is not None and text[start:end] == document.page_content


def _warm_up(ask: Callable[[str], object], questions: list[EvalQuestion]) -> None:
    """One untimed pass over the questions: the first inputs of each length pay for kernel
    set-up in the model runtime (seen as ~1 s outliers), which is start-up, not query cost."""
    with progress_bar() as bar:
        task = bar.add_task("warm-up pass (untimed)", total=len(questions))
        for q in questions:
            ask(q.question)
            bar.advance(task)


def _cache_dir(settings: Any) -> Path:
    """The baseline's Chroma folder, beside the RegQA index (the index benchmark builds both)."""
    return Path(settings.index_dir).parent / "langchain-chroma"


def _report(r: dict[str, Any]) -> None:
    sets = r["sets"]
    latency = sets[r["latency_set"]]
    rq, lc = latency["regqa"], latency["langchain"]
    print_table(f"Query latency (ms), {latency['questions']} {r['latency_set']} questions × {r['repeats']}",
                ["", "p50", "p95", "p99"], [
        ("RegQA retrieval (hybrid)", rq["retrieval_ms"]["p50"], rq["retrieval_ms"]["p95"], rq["retrieval_ms"]["p99"]),
        ("RegQA extractive answer", rq["answer_ms"]["p50"], rq["answer_ms"]["p95"], rq["answer_ms"]["p99"]),
        ("LangChain similarity_search", lc["retrieval_ms"]["p50"], lc["retrieval_ms"]["p95"],
         lc["retrieval_ms"]["p99"]),
        ("LangChain search + stuffing", lc["answer_ms"]["p50"], lc["answer_ms"]["p95"], lc["answer_ms"]["p99"]),
    ])
    rows: list[tuple[object, ...]] = []
    for name, s in sets.items():
        rows.append((f"{name} ({s['answerable']} answerable): RegQA", s["regqa"]["recall_at_5"], s["regqa"]["recall_at_10"], s["regqa"]["mrr"],
                     s["regqa"]["mean_context_chars"]))
        rows.append((f"{name}: LangChain", s["langchain"]["recall_at_5"], s["langchain"]["recall_at_10"],
                     s["langchain"]["mrr"], s["langchain"]["mean_context_chars"]))
        d = s["difference_points"]
        rows.append((f"{name}: difference, points", f"{d['recall_at_5']:+.1f}", f"{d['recall_at_10']:+.1f}",
                     f"{d['mrr']:+.1f}", ""))
    print_table("Gold evidence retrieved (RegQA: top units; LangChain: top chunks)",
                ["", "recall@5", "recall@10", "MRR", "context chars"], rows)
    breakdown = r["regqa_retrieval_breakdown"]
    print_table("Where RegQA's retrieval time goes (ms)", ["", "p50", "p95"], [
        (f"embedding ({breakdown['embedding_calls_per_question']:.1f} encode calls per question)",
         breakdown["embedding_ms"]["p50"], breakdown["embedding_ms"]["p95"]),
        ("everything else", breakdown["rest_ms"]["p50"], breakdown["rest_ms"]["p95"]),
    ])
    r["ratios"] = {
        "regqa_over_langchain_retrieval_p50": ratio(rq["retrieval_ms"]["p50"], lc["retrieval_ms"]["p50"]),
        "regqa_over_langchain_retrieval_p95": ratio(rq["retrieval_ms"]["p95"], lc["retrieval_ms"]["p95"]),
        "regqa_over_langchain_answer_p95": ratio(rq["answer_ms"]["p95"], lc["answer_ms"]["p95"]),
    }
    print_ratio("RegQA / LangChain retrieval p95", r["ratios"]["regqa_over_langchain_retrieval_p95"],
                "lower = RegQA faster; RegQA also runs BM25, reference lookup and fusion")
    print_ratio("RegQA / LangChain answer p95", r["ratios"]["regqa_over_langchain_answer_p95"],
                "LangChain's answer has no generation step at all")
    r["targets"] = [
        target(f"retrieval p95 < {RETRIEVAL_P95_MS:.0f} ms", rq["retrieval_ms"]["p95"] < RETRIEVAL_P95_MS,
               f"{rq['retrieval_ms']['p95']:.1f} ms"),
        target(f"extractive answer p95 < {ANSWER_P95_MS:.0f} ms", rq["answer_ms"]["p95"] < ANSWER_P95_MS,
               f"{rq['answer_ms']['p95']:.1f} ms"),
    ]
    for name, s in sets.items():
        mine, theirs = s["regqa"]["recall_at_10"], s["langchain"]["recall_at_10"]
        points = s["difference_points"]["recall_at_10"]
        r["targets"].append(target(f"{name}: recall@10 ≥ LangChain's", mine >= theirs,
                                   f"{mine:.3f} vs {theirs:.3f} ({points:+.1f} points)"))
        if errors := s["regqa"]["errors"]:
            console.print(f"[red]{name}: {len(errors)} questions failed[/red]: {errors[:3]}")
        if s["langchain"]["misplaced_chunks"]:
            console.print(f"[yellow]{name}: {s['langchain']['misplaced_chunks']} LangChain chunks carry a "
                          "start_index that does not point at their text[/yellow]")


def _plot(r: dict[str, Any], out_dir: Path) -> None:
    fig, (left, right) = figure(2, width=5.5)
    latency = r["sets"][r["latency_set"]]
    series = [("RegQA retrieval", latency["regqa"]["samples"]["retrieval_ms"], "#1f77b4", "-"),
              ("RegQA extractive answer", latency["regqa"]["samples"]["answer_ms"], "#1f77b4", "--"),
              ("LangChain similarity_search", latency["langchain"]["samples"]["retrieval_ms"], "#ff7f0e", "-"),
              ("LangChain search + stuffing", latency["langchain"]["samples"]["answer_ms"], "#ff7f0e", "--")]
    for label, samples, colour, style in series:
        values = np.sort(np.asarray(samples))
        left.plot(values, np.arange(1, len(values) + 1) / len(values), style, color=colour, label=label)
    for limit, name in ((RETRIEVAL_P95_MS, "retrieval target"), (ANSWER_P95_MS, "answer target")):
        left.axvline(limit, color="grey", linestyle=":", linewidth=1)
        left.annotate(name, (limit, 0.05), rotation=90, fontsize=8, color="grey")
    left.axhline(0.95, color="grey", linewidth=0.5)
    left.set_xscale("log")
    left.set_xlabel("latency, ms (log)")
    left.set_ylabel("share of questions")
    left.set_title(f"Latency CDF, {latency['questions']} {r['latency_set']} questions × {r['repeats']}")
    left.legend(fontsize=8, loc="lower right")
    names = [f"{s}\n{m.replace('_at_', '@')}" for s in r["sets"] for m in QUALITY]
    x = np.arange(len(names))
    for shift, side, label in ((-0.2, "regqa", "RegQA"), (0.2, "langchain", "LangChain")):
        right.bar(x + shift, [r["sets"][s][side][m] for s in r["sets"] for m in QUALITY], 0.4, label=label)
    right.set_xticks(x, names, fontsize=8)
    right.set_ylim(0, 1)
    right.set_title("Gold evidence retrieved (overlap rule)")
    right.legend(fontsize=8)
    save_figure(fig, out_dir, "query")


def _rounded(values: list[float]) -> list[float]:
    return [round(v, 2) for v in values]
