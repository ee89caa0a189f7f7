"""Benchmark 2 — query latency and retrieval quality over the dev questions.

RegQA: `HybridRetriever.search` (retrieval) and `Assistant.ask` in extractive mode (full answer,
citations verified), scored with the eval harness's own `score_question`, so recall@10 here is
the CI gate's number. Baseline: LangChain `similarity_search(q, k=10)` plus stuffing the hits
into a prompt; with no LLM, its "answer" time is retrieval + stuffing, a lower bound.

Every question is asked with the query-embedding cache emptied first, so each measurement
embeds its question as a new question would (the server's LRU would hide that cost). The two
pipelines are measured back to back per question, so a shared CPU slows both alike."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from evals.bench import baseline
from evals.bench.common import (
    DEV_SET,
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
from evals.runner import InProcess

RETRIEVAL_P95_MS = 50.0
ANSWER_P95_MS = 200.0
K = 10
WARM_UP = ("What is a dual-use item?", "Which ECCN covers intrusion software?")


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
    """One pipeline's samples and quality numbers."""

    retrieval_ms: list[float] = field(default_factory=list)
    answer_ms: list[float] = field(default_factory=list)
    context_chars: list[int] = field(default_factory=list)
    units: list[int] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {"retrieval_ms": summarize(self.retrieval_ms), "answer_ms": summarize(self.answer_ms),
                "mean_context_chars": round(float(np.mean(self.context_chars))),
                "mean_units_in_top_k": round(float(np.mean(self.units)), 2),
                "samples": {"retrieval_ms": _rounded(self.retrieval_ms), "answer_ms": _rounded(self.answer_ms)}}


def run(variant: Variant, out_dir: Path) -> dict[str, Any]:
    """RegQA and the baseline are measured question by question, back to back, so that both
    see the same load when the machine is shared (a sequential design would not)."""
    from assistant.service import Assistant
    from evals.metrics import QuestionScore, aggregate, score_question, stage_latencies
    from evals.support import Thresholds

    settings = variant.settings()
    ensure_index(settings)
    questions = _questions(settings)
    repeats = 1 if variant.quick else 3
    result: dict[str, Any] = {"benchmark": "query", "variant": variant.name, "machine": machine(),
                              "embedding_backend": embedding_backend(settings),
                              "questions": len(questions), "repeats": repeats, "k": K}
    console.rule(f"[bold]query[/bold] — {variant.name} corpus, {len(questions)} questions × {repeats}")

    with Stopwatch() as sw:
        assistant = Assistant(settings)
        assistant.ask(WARM_UP[0], mode="extractive")
    result["regqa_first_answer_incl_model_and_index_load_ms"] = round(sw.seconds * 1000, 1)
    store = baseline.open_or_build(indexed_files(settings), _cache_dir(settings), settings.model_path)
    units = baseline.UnitMap.from_index(settings)
    _warm_up(lambda q: (clear_query_cache(assistant), assistant.ask(q, mode="extractive"),
                        store.similarity_search(q, k=K)), questions)

    passages = InProcess(assistant).passage
    embed = assistant.embed.embedder.encode
    timer = TimedEncoder(assistant.embed.embedder)
    assistant.embed.embedder = timer
    embed_ms: list[float] = []
    embed_calls: list[int] = []
    thresholds = Thresholds.load()
    regqa, chain = Side(), Side()
    scores: list[QuestionScore] = []
    errors: list[str] = []
    recall: dict[str, list[float]] = {"at_5": [], "at_10": [], "strict_at_5": [], "strict_at_10": []}
    unmapped = 0
    with progress_bar() as bar:
        task = bar.add_task("questions (RegQA and LangChain)", total=len(questions) * repeats)
        for rep in range(repeats):
            for q in questions:
                bar.advance(task)
                # RegQA retrieval alone, then the full extractive answer (retrieval included).
                clear_query_cache(assistant)
                _pause()
                timer.reset()
                with Stopwatch() as sw:
                    found = assistant.retriever.search(assistant.clean_question(q.question), None,
                                                       settings.top_k)
                regqa.retrieval_ms.append(sw.seconds * 1000)
                embed_ms.append(timer.seconds * 1000)
                embed_calls.append(timer.calls)
                clear_query_cache(assistant)
                _pause()
                try:
                    with Stopwatch() as sw:
                        response = assistant.ask(q.question, mode="extractive")
                except Exception as exc:  # noqa: BLE001 - a failed question is a result
                    errors.append(f"{q.id}: {type(exc).__name__}: {exc}"[:300])
                    continue
                regqa.answer_ms.append(sw.seconds * 1000)
                # The baseline: similarity_search, then stuffing the hits into a prompt.
                _pause()
                with Stopwatch() as search:
                    documents = store.similarity_search(q.question, k=K)
                with Stopwatch() as stuffing:
                    baseline.stuff(q.question, documents)
                chain.retrieval_ms.append(search.seconds * 1000)
                chain.answer_ms.append((search.seconds + stuffing.seconds) * 1000)
                if rep:
                    continue
                scores.append(score_question(q, response, regqa.answer_ms[-1], passages, embed, thresholds))
                hits = found.hits[:K]
                regqa.context_chars.append(sum(len(h.chunk.text) for h in hits))
                regqa.units.append(len({(h.chunk.doc_id, h.chunk.section) for h in hits}))
                mapped = [units.units(d) for d in documents]
                chain.context_chars.append(sum(len(d.page_content) for d in documents))
                chain.units.append(len({u for m in mapped for u in m}))
                unmapped += sum(not m for m in mapped)
                if q.answerable:
                    gold = [(g.doc, g.section) for g in q.gold]
                    for k in (5, 10):
                        recall[f"at_{k}"].append(baseline.recall_at(gold, mapped, k))
                        recall[f"strict_at_{k}"].append(baseline.recall_at(gold, [m[:1] for m in mapped], k))
    metrics = aggregate(scores)
    result["regqa"] = {
        **regqa.summary(), "answer_stages_ms": stage_latencies(scores), "errors": errors,
        "retrieval_breakdown": {
            "embedding_calls_per_question": round(float(np.mean(embed_calls)), 2),
            "embedding_ms": summarize(embed_ms),
            "rest_ms": summarize([r - e for r, e in zip(regqa.retrieval_ms, embed_ms)]),
            "note": "embedding = encoding the question and its facets (cache emptied); rest = "
                    "reference lookup, exact dense search, BM25, fusion, diversity"},
        "recall_at_5": metrics["retrieval_recall_at_5"], "recall_at_10": metrics["retrieval_recall_at_10"],
        "mrr": metrics["mrr"], "eval_metrics": metrics,
    }
    result["langchain"] = {
        **chain.summary(),
        **{f"recall_{name}": round(float(np.mean(values)), 4) for name, values in recall.items()},
        "answer_note": "no LLM: similarity_search + stuffing the hits into a prompt string",
        "hits_overlapping_no_unit": unmapped,
        "matching_rule": "recall_at_k: a baseline chunk counts as every citable unit whose text it overlaps "
                         "in the same file (RegQA's chunk spans of that file); recall_strict_at_k: only as "
                         "the unit holding most of its characters; then evals.matching.citation_matches",
    }
    result["load_average_1m_at_end"] = load_average()
    _report(result)
    write_json(out_dir, "query", result)
    _plot(result, out_dir)
    return result


def _pause() -> None:
    """Let the other runtime's worker threads go idle: torch and onnxruntime both spin-wait for
    a while after a call, and one measured right after the other would pay for that."""
    time.sleep(0.05)


def _questions(settings: Any) -> list[EvalQuestion]:
    """The dev set; on a corpus subset (--quick), only questions whose gold documents it holds."""
    from indexer.store import IndexStore

    questions = load_dataset(DEV_SET)
    indexed = set(IndexStore(settings.index_dir).read_manifest().documents)
    return [q for q in questions if all(g.doc in indexed for g in q.gold)]


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
    rq, lc = r["regqa"], r["langchain"]
    print_table(f"Query latency (ms), {r['questions']} dev questions × {r['repeats']}",
                ["", "p50", "p95", "p99"], [
        ("RegQA retrieval (hybrid)", rq["retrieval_ms"]["p50"], rq["retrieval_ms"]["p95"], rq["retrieval_ms"]["p99"]),
        ("RegQA extractive answer", rq["answer_ms"]["p50"], rq["answer_ms"]["p95"], rq["answer_ms"]["p99"]),
        ("LangChain similarity_search", lc["retrieval_ms"]["p50"], lc["retrieval_ms"]["p95"],
         lc["retrieval_ms"]["p99"]),
        ("LangChain search + stuffing", lc["answer_ms"]["p50"], lc["answer_ms"]["p95"], lc["answer_ms"]["p99"]),
    ])
    print_table("Retrieval quality over the answerable questions (top 10)",
                ["", "recall@10", "recall@5", "units in top 10", "context chars"], [
        ("RegQA", rq["recall_at_10"], rq["recall_at_5"], rq["mean_units_in_top_k"], rq["mean_context_chars"]),
        ("LangChain, any overlapped unit", lc["recall_at_10"], lc["recall_at_5"], lc["mean_units_in_top_k"],
         lc["mean_context_chars"]),
        ("LangChain, main unit only", lc["recall_strict_at_10"], lc["recall_strict_at_5"], "≤ 10", ""),
    ])
    breakdown = rq["retrieval_breakdown"]
    print_table("Where RegQA's retrieval time goes (ms)", ["", "p50", "p95"], [
        (f"embedding ({breakdown['embedding_calls_per_question']:.1f} encode calls per question)",
         breakdown["embedding_ms"]["p50"], breakdown["embedding_ms"]["p95"]),
        ("everything else", breakdown["rest_ms"]["p50"], breakdown["rest_ms"]["p95"]),
    ])
    r["ratios"] = {
        "regqa_over_langchain_retrieval_p50": ratio(rq["retrieval_ms"]["p50"], lc["retrieval_ms"]["p50"]),
        "regqa_over_langchain_retrieval_p95": ratio(rq["retrieval_ms"]["p95"], lc["retrieval_ms"]["p95"]),
        "regqa_over_langchain_answer_p95": ratio(rq["answer_ms"]["p95"], lc["answer_ms"]["p95"]),
        "regqa_over_langchain_recall_at_10": ratio(rq["recall_at_10"], lc["recall_at_10"]),
    }
    print_ratio("RegQA / LangChain retrieval p95", r["ratios"]["regqa_over_langchain_retrieval_p95"],
                "lower = RegQA faster; RegQA also runs BM25, reference lookup and fusion")
    print_ratio("RegQA / LangChain answer p95", r["ratios"]["regqa_over_langchain_answer_p95"],
                "LangChain's answer has no generation step at all")
    print_ratio("RegQA / LangChain recall@10", r["ratios"]["regqa_over_langchain_recall_at_10"],
                "≥ 1.00 = speed was not bought with quality")
    r["targets"] = [
        target(f"retrieval p95 < {RETRIEVAL_P95_MS:.0f} ms", rq["retrieval_ms"]["p95"] < RETRIEVAL_P95_MS,
               f"{rq['retrieval_ms']['p95']:.1f} ms"),
        target(f"extractive answer p95 < {ANSWER_P95_MS:.0f} ms", rq["answer_ms"]["p95"] < ANSWER_P95_MS,
               f"{rq['answer_ms']['p95']:.1f} ms"),
        target("recall@10 ≥ LangChain's (any-overlap rule)", rq["recall_at_10"] >= lc["recall_at_10"],
               f"{rq['recall_at_10']:.3f} vs {lc['recall_at_10']:.3f}"),
        target("recall@10 ≥ LangChain's (main-unit rule)", rq["recall_at_10"] >= lc["recall_strict_at_10"],
               f"{rq['recall_at_10']:.3f} vs {lc['recall_strict_at_10']:.3f}"),
    ]
    if rq["errors"]:
        console.print(f"[red]{len(rq['errors'])} questions failed[/red]: {rq['errors'][:3]}")


def _plot(r: dict[str, Any], out_dir: Path) -> None:
    fig, (left, right) = figure(2, width=5.5)
    series = [("RegQA retrieval", r["regqa"]["samples"]["retrieval_ms"], "#1f77b4", "-"),
              ("RegQA extractive answer", r["regqa"]["samples"]["answer_ms"], "#1f77b4", "--"),
              ("LangChain similarity_search", r["langchain"]["samples"]["retrieval_ms"], "#ff7f0e", "-"),
              ("LangChain search + stuffing", r["langchain"]["samples"]["answer_ms"], "#ff7f0e", "--")]
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
    left.set_title(f"Latency CDF, {r['questions']} dev questions × {r['repeats']}")
    left.legend(fontsize=8, loc="lower right")
    names = ["recall@5", "recall@10"]
    x = np.arange(len(names))
    for shift, side, label in ((-0.2, "regqa", "RegQA"), (0.2, "langchain", "LangChain")):
        right.bar(x + shift, [r[side]["recall_at_5"], r[side]["recall_at_10"]], 0.4, label=label)
    right.set_xticks(x, names)
    right.set_ylim(0, 1)
    right.set_title("Retrieval recall of the gold units")
    right.legend(fontsize=8)
    save_figure(fig, out_dir, "query")


def _rounded(values: list[float]) -> list[float]:
    return [round(v, 2) for v in values]

