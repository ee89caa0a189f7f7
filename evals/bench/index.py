"""Benchmark 1 — indexing the bundled corpus from scratch.

Three numbers from one run, so they share the machine's state: RegQA's `Indexer` with its
default settings (chunking, embedding with the default backend, Chroma upsert, BM25, commit);
the raw `encode` of the same backend over exactly the texts RegQA embedded (the ceiling: RegQA
cannot index faster than its model embeds); and the standard LangChain pipeline. The torch fp32
encode rate is reported too, so an ONNX backend's gain is visible on its own."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any


from evals.bench import baseline
from evals.bench.common import (
    Stopwatch, Variant, console, embedding_backend, figure, indexed_files, load_average,
    load_embedder, machine, print_ratio, print_table, progress_bar, ratio, read_generation_chunks,
    save_figure, target, write_json,
)

REFERENCE_SAMPLE = 1000  # chunks for the torch fp32 reference when the default backend is not torch
SPEEDUP_TARGET = 2.5


def run(variant: Variant, out_dir: Path) -> dict[str, Any]:
    from indexer.pipeline import Indexer

    settings = variant.settings()
    backend = embedding_backend(settings)
    result: dict[str, Any] = {"benchmark": "index", "variant": variant.name, "machine": machine(),
                              "embedding_backend": backend}
    console.rule(f"[bold]index[/bold] — {variant.name} corpus, backend {backend}")

    # Load the model once before timing anything: imports and a cold page cache would
    # otherwise be charged to whichever pipeline happens to run first.
    embedder = load_embedder(settings)
    embedder.encode(["warm-up"] * 8)

    shutil.rmtree(settings.index_dir, ignore_errors=True)
    stages: dict[str, list[float]] = {}  # stage -> [first seen, last seen] (perf_counter)
    with progress_bar() as bar, Stopwatch() as sw:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            stages.setdefault(stage, [time.perf_counter(), 0.0])[1] = time.perf_counter()
            if stage not in tasks:
                tasks[stage] = bar.add_task(f"RegQA: {stage}", total=total)
            bar.update(tasks[stage], completed=done, total=total)

        summary = Indexer(settings).run(progress=progress)
    chunks = read_generation_chunks(settings)
    texts = [c.embed_text for c in chunks]
    tokens = token_stats(settings.model_path, texts, settings.embed_batch_size, _sort_window(backend))
    result["regqa"] = {
        "documents": summary.documents, "chunks": summary.chunks,
        "chunks_embedded": summary.chunks_embedded,
        "chunks_from_embedding_cache": getattr(summary, "chunks_from_cache", 0),
        "characters_embedded": sum(map(len, texts)),
        "wall_s": round(sw.seconds, 2), "chunks_per_s": round(summary.chunks / sw.seconds, 2),
        "tokens_per_s": round(tokens["tokens"] / sw.seconds), "tokens": tokens,
        # Approximate: from the first to the last progress report of each stage.
        "stage_s": {k: round(v[1] - v[0], 2) for k, v in stages.items()},
        "start_to_first_embed_s": round(stages["embed"][0] - sw.started, 2) if "embed" in stages else None,
    }

    raw_s = _timed_encode(embedder, texts, f"raw encode ({backend})")
    result["raw_ceiling"] = {"backend": backend, "chunks": len(texts), "seconds": round(raw_s, 2),
                             "chunks_per_s": round(len(texts) / raw_s, 2),
                             "tokens": token_stats(settings.model_path, texts, settings.embed_batch_size,
                                                   None if backend.startswith("onnx") else 0),
                             "note": "the same backend's encode over exactly RegQA's embedded texts "
                                     "(context + text), model already loaded"}
    result["torch_reference"] = _torch_reference(settings, embedder, texts, backend, result["raw_ceiling"])

    files = indexed_files(settings)
    _, times = baseline.build(files, variant.cache / "langchain-chroma", settings.model_path)
    # One sentence-transformers encode call over every chunk: sorted by length across all of them.
    lc_tokens = token_stats(settings.model_path, times.texts, 32, None)
    result["langchain"] = {
        "files": len(files), "chunks": times.chunks, "characters_embedded": times.characters,
        "tokens_per_s": round(lc_tokens["tokens"] / times.total), "tokens": lc_tokens,
        "chunk_size": baseline.CHUNK_SIZE, "chunk_overlap": baseline.CHUNK_OVERLAP,
        "load_s": round(times.load, 3), "split_s": round(times.split, 3),
        "model_load_s": round(times.model_load, 2), "embed_and_store_s": round(times.embed_and_store, 2),
        "wall_s": round(times.total, 2), "chunks_per_s": round(times.chunks / times.total, 2),
    }
    result["load_average_1m_at_end"] = load_average()
    _report(result)
    write_json(out_dir, "index", result)
    _plot(result, out_dir)
    return result


def token_stats(model_path: Path, texts: list[str], batch_size: int, sort_window: int | None) -> dict[str, Any]:
    """What the model really computes: word pieces after truncation to its window, pieces cut
    off by it (never searchable), and the padding of batches of `batch_size` when texts are
    sorted by length within windows of `sort_window` texts (0: not sorted; None: all at once)."""
    import json

    from tokenizers import Tokenizer

    window = int(json.loads((model_path / "sentence_bert_config.json").read_text())["max_seq_length"])
    tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    full = [len(e.ids) for e in tokenizer.encode_batch(texts)]  # with [CLS] and [SEP]
    kept = [min(n, window) for n in full]
    if sort_window == 0:
        order = kept
    else:
        step = sort_window or len(kept)
        order = [n for i in range(0, len(kept), step) for n in sorted(kept[i : i + step], reverse=True)]
    padded = sum(max(order[i : i + batch_size]) * len(order[i : i + batch_size])
                 for i in range(0, len(order), batch_size))
    return {"window": window, "tokens": sum(kept), "truncated_chunks": sum(n > window for n in full),
            "tokens_cut_by_window": sum(full) - sum(kept), "batch_size": batch_size,
            "sorted_by_length_within": "all texts" if sort_window is None else sort_window or "not sorted",
            "padded_tokens_computed": padded, "padding_overhead": round(padded / max(1, sum(kept)) - 1, 3)}


def _sort_window(backend: str) -> int:
    """How RegQA's embedder meets the texts: the indexer sends parts of 256; the ONNX embedder
    sorts each part by length, the torch one batches them in index order."""
    return 256 if backend.startswith("onnx") else 0


def _timed_encode(embedder: Any, texts: list[str], label: str) -> float:  # noqa: ANN401
    with progress_bar() as bar:
        task = bar.add_task(label, total=len(texts))
        with Stopwatch() as sw:
            embedder.encode(texts, on_batch=lambda n: bar.advance(task, n))
    return sw.seconds


def _torch_reference(settings: Any, embedder: Any, texts: list[str], backend: str,  # noqa: ANN401
                     raw: dict[str, Any]) -> dict[str, Any]:
    """torch fp32 encode rate; on an evenly spaced sample when it is not the default backend."""
    if backend == "torch":
        return {**raw, "note": "the default backend is torch fp32: same run as the raw ceiling"}
    from indexer.embeddings import SentenceTransformerEmbedder

    step = max(1, len(texts) // REFERENCE_SAMPLE)
    sample = texts[::step][:REFERENCE_SAMPLE]
    torch_embedder = SentenceTransformerEmbedder(settings.model_path, settings.embed_batch_size)
    torch_embedder.encode(["warm-up"] * 8)
    torch_s = _timed_encode(torch_embedder, sample, "raw encode (torch fp32, sample)")
    default_s = _timed_encode(embedder, sample, f"raw encode ({backend}, same sample)")
    return {"backend": "torch", "chunks": len(sample), "seconds": round(torch_s, 2),
            "chunks_per_s": round(len(sample) / torch_s, 2),
            "default_backend_chunks_per_s_same_sample": round(len(sample) / default_s, 2),
            "note": f"every {step}th chunk RegQA embedded"}


def _report(r: dict[str, Any]) -> None:
    rq, raw, ref, lc = r["regqa"], r["raw_ceiling"], r["torch_reference"], r["langchain"]
    raw["tokens_per_s"] = round(rq["tokens"]["tokens"] / raw["seconds"])
    sampled = " (sample)" if "default_backend_chunks_per_s_same_sample" in ref else ""
    print_table("Indexing", ["pipeline", "chunks", "wall s", "chunks/s", "tokens/s", "cut by window",
                             "padding"], [
        (f"RegQA Indexer ({r['embedding_backend']})", rq["chunks"], rq["wall_s"], rq["chunks_per_s"],
         rq["tokens_per_s"], rq["tokens"]["truncated_chunks"], f"{rq['tokens']['padding_overhead']:.0%}"),
        (f"raw encode, same texts ({raw['backend']})", raw["chunks"], raw["seconds"], raw["chunks_per_s"],
         raw["tokens_per_s"], raw["tokens"]["truncated_chunks"], f"{raw['tokens']['padding_overhead']:.0%}"),
        (f"raw encode, torch fp32{sampled}", ref["chunks"], ref["seconds"], ref["chunks_per_s"], "", "", ""),
        (f"LangChain ({lc['chunk_size']}/{lc['chunk_overlap']} chars, HF, Chroma)", lc["chunks"],
         lc["wall_s"], lc["chunks_per_s"], lc["tokens_per_s"], lc["tokens"]["truncated_chunks"],
         f"{lc['tokens']['padding_overhead']:.0%}"),
    ])
    speedup = ratio(lc["wall_s"], rq["wall_s"])
    efficiency = ratio(rq["chunks_per_s"], raw["chunks_per_s"])
    r["ratios"] = {
        "langchain_wall_over_regqa_wall": speedup,
        "regqa_tokens_per_s_over_langchain": ratio(rq["tokens_per_s"], lc["tokens_per_s"]),
        "regqa_chunks_per_s_over_raw_ceiling": efficiency,
        "default_backend_over_torch_fp32_encode": ratio(
            ref.get("default_backend_chunks_per_s_same_sample", ref["chunks_per_s"]), ref["chunks_per_s"]),
    }
    print_ratio("LangChain wall / RegQA wall", speedup, "higher = RegQA indexes the corpus faster")
    print_ratio("RegQA tokens/s / LangChain tokens/s", r["ratios"]["regqa_tokens_per_s_over_langchain"],
                "per word piece embedded, since the two pipelines cut different chunks")
    print_ratio("RegQA chunks/s / raw encode chunks/s", efficiency,
                "1.00 = RegQA adds no overhead over its model")
    if sampled:
        print_ratio(f"{r['embedding_backend']} / torch fp32 encode rate",
                    r["ratios"]["default_backend_over_torch_fp32_encode"], "same sample of chunks")
    r["targets"] = [target(f"index ≥ {SPEEDUP_TARGET}x faster than LangChain", speedup >= SPEEDUP_TARGET,
                           f"{speedup:.2f}x (recall is compared in the query benchmark)")]


def _plot(r: dict[str, Any], out_dir: Path) -> None:
    fig, (left, right) = figure(2, width=5.5)
    labels = ["RegQA", "raw encode\n(ceiling)", "LangChain"]
    walls = [r["regqa"]["wall_s"], r["raw_ceiling"]["seconds"], r["langchain"]["wall_s"]]
    rates = [r["regqa"]["chunks_per_s"], r["raw_ceiling"]["chunks_per_s"], r["langchain"]["chunks_per_s"]]
    colours = ["#1f77b4", "#9ecae1", "#ff7f0e"]
    left.bar(labels, walls, color=colours)
    left.set_ylabel("seconds (lower is better)")
    left.set_title(f"Index the {r['variant']} corpus: wall time")
    right.bar(labels, rates, color=colours)
    right.set_ylabel("chunks / s (higher is better)")
    right.set_title(f"throughput (backend: {r['embedding_backend']})")
    for axis, values in ((left, walls), (right, rates)):
        for i, v in enumerate(values):
            axis.annotate(f"{v:,.1f}", (i, v), ha="center", va="bottom", fontsize=9)
    save_figure(fig, out_dir, "index")

