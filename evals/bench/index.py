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
    Stopwatch,
    Variant,
    console,
    embedding_backend,
    figure,
    indexed_files,
    load_average,
    load_embedder,
    machine,
    print_ratio,
    print_table,
    progress_bar,
    ratio,
    read_generation_chunks,
    save_figure,
    target,
    write_json,
)

REFERENCE_SAMPLE = 1000  # chunks for the torch fp32 reference when the default backend is not torch
SPEEDUP_TARGET = 2.5


def run(variant: Variant, out_dir: Path) -> dict[str, Any]:
    from indexer.pipeline import Indexer

    settings = variant.settings()
    if hasattr(settings, "bundled_vectors"):  # measure the model, not the vectors shipped for the corpus
        settings = settings.model_copy(update={"bundled_vectors": False})
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
    load_before = load_average()
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
        **_rates(sw, summary.chunks, tokens["tokens"]), "tokens": tokens,
        # Approximate: from the first to the last progress report of each stage.
        "stage_s": {k: round(v[1] - v[0], 2) for k, v in stages.items()},
        "start_to_first_embed_s": round(stages["embed"][0] - sw.started, 2) if "embed" in stages else None,
        "load_average_1m": [load_before, load_average()],
    }

    load_before = load_average()
    raw = _timed_encode(embedder, texts, f"raw encode ({backend})")
    result["raw_ceiling"] = {
        "backend": backend, "chunks": len(texts), **_rates(raw, len(texts), tokens["tokens"]),
        "tokens": token_stats(settings.model_path, texts, settings.embed_batch_size,
                              None if backend.startswith("onnx") else 0),
        "load_average_1m": [load_before, load_average()],
        "note": "the same backend's encode over exactly RegQA's embedded texts (context + text), "
                "model already loaded, all texts in one call"}
    result["torch_reference"] = _torch_reference(settings, embedder, texts, backend)

    files = indexed_files(settings)
    load_before = load_average()
    _, times = baseline.build(files, variant.cache / "langchain-chroma", settings.model_path)
    # One sentence-transformers encode call over every chunk: sorted by length across all of them.
    lc_tokens = token_stats(settings.model_path, times.texts, 32, None)
    result["langchain"] = {
        "files": len(files), "chunks": times.chunks, "characters_embedded": times.characters,
        "chunk_size": baseline.CHUNK_SIZE, "chunk_overlap": baseline.CHUNK_OVERLAP,
        "load_s": round(times.load, 3), "split_s": round(times.split, 3),
        "model_load_s": round(times.model_load, 2), "embed_and_store_s": round(times.embed_and_store, 2),
        "wall_s": round(times.total, 2), "cpu_s": round(times.cpu, 2),
        "chunks_per_s": round(times.chunks / times.total, 2),
        "tokens_per_s": round(lc_tokens["tokens"] / times.total),
        "tokens_per_cpu_s": round(lc_tokens["tokens"] / times.cpu), "tokens": lc_tokens,
        "load_average_1m": [load_before, load_average()],
    }
    _report(result)
    write_json(out_dir, "index", result)
    _plot(result, out_dir)
    return result


def _rates(sw: Stopwatch, chunks: int, tokens: int) -> dict[str, float]:
    return {"wall_s": round(sw.seconds, 2), "cpu_s": round(sw.cpu, 2),
            "chunks_per_s": round(chunks / sw.seconds, 2), "tokens_per_s": round(tokens / sw.seconds),
            "tokens_per_cpu_s": round(tokens / sw.cpu)}


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


def _timed_encode(embedder: Any, texts: list[str], label: str) -> Stopwatch:
    with progress_bar() as bar:
        task = bar.add_task(label, total=len(texts))
        with Stopwatch() as sw:
            embedder.encode(texts, on_batch=lambda n: bar.advance(task, n))
    return sw


def _torch_reference(settings: Any, embedder: Any, texts: list[str], backend: str) -> dict[str, Any]:
    """torch fp32 on an evenly spaced sample, back to back with the default backend on the same
    sample: sentence-transformers' own encode (one call, texts sorted by length, the library at
    its best) and RegQA's torch embedder (it feeds the model 32 texts at a time, in index order)."""
    from sentence_transformers import SentenceTransformer

    from indexer.embeddings import SentenceTransformerEmbedder

    step = max(1, len(texts) // REFERENCE_SAMPLE)
    sample = texts[::step][:REFERENCE_SAMPLE]
    sample_tokens = token_stats(settings.model_path, sample, settings.embed_batch_size, None)["tokens"]
    library = SentenceTransformer(str(settings.model_path), device="cpu", local_files_only=True)
    library.encode(["warm-up"] * 8)
    with console.status("torch fp32 (sentence-transformers encode, one call) on the sample"), Stopwatch() as lib:
        library.encode(sample, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
    wrapper = SentenceTransformerEmbedder(settings.model_path, settings.embed_batch_size)
    regqa_torch = _timed_encode(wrapper, sample, "torch fp32 (RegQA embedder) on the sample")
    default = _timed_encode(embedder, sample, f"{backend} on the same sample")
    return {"chunks": len(sample), "tokens": sample_tokens, "note": f"every {step}th chunk RegQA embedded",
            "torch_library_sorted": _rates(lib, len(sample), sample_tokens),
            "torch_regqa_embedder": _rates(regqa_torch, len(sample), sample_tokens),
            f"default_{backend}": _rates(default, len(sample), sample_tokens)}


def _report(r: dict[str, Any]) -> None:
    rq, raw, ref, lc = r["regqa"], r["raw_ceiling"], r["torch_reference"], r["langchain"]
    backend = r["embedding_backend"]

    def row(name: str, m: dict[str, Any], chunks: int, tok: dict[str, Any] | None) -> tuple[object, ...]:
        return (name, chunks, m["wall_s"], m["cpu_s"], m["chunks_per_s"], m["tokens_per_s"],
                m["tokens_per_cpu_s"], "" if tok is None else tok["truncated_chunks"],
                "" if tok is None else f"{tok['padding_overhead']:.0%}")

    print_table("Indexing", ["pipeline", "chunks", "wall s", "CPU s", "chunks/s", "tokens/s", "tokens/CPU s",
                             "cut by window", "padding"], [
        row(f"RegQA Indexer ({backend})", rq, rq["chunks"], rq["tokens"]),
        row(f"raw encode, same texts ({backend})", raw, raw["chunks"], raw["tokens"]),
        row(f"sample: {backend}", ref[f"default_{backend}"], ref["chunks"], None),
        row("sample: torch fp32, sentence-transformers", ref["torch_library_sorted"], ref["chunks"], None),
        row("sample: torch fp32, RegQA embedder", ref["torch_regqa_embedder"], ref["chunks"], None),
        row(f"LangChain ({lc['chunk_size']}/{lc['chunk_overlap']} chars, HF, Chroma)", lc, lc["chunks"],
            lc["tokens"]),
    ])
    speedup = ratio(lc["wall_s"], rq["wall_s"])
    r["ratios"] = {
        "langchain_wall_over_regqa_wall": speedup,
        "langchain_cpu_over_regqa_cpu": ratio(lc["cpu_s"], rq["cpu_s"]),
        "regqa_tokens_per_cpu_s_over_langchain": ratio(rq["tokens_per_cpu_s"], lc["tokens_per_cpu_s"]),
        "regqa_chunks_per_s_over_raw_ceiling": ratio(rq["chunks_per_s"], raw["chunks_per_s"]),
        "regqa_cpu_over_raw_ceiling_cpu": ratio(rq["cpu_s"], raw["cpu_s"]),
        "default_backend_over_torch_library_tokens_per_cpu_s": ratio(
            ref[f"default_{backend}"]["tokens_per_cpu_s"], ref["torch_library_sorted"]["tokens_per_cpu_s"]),
    }
    print_ratio("LangChain wall / RegQA wall", speedup, "higher = RegQA indexes the corpus faster")
    print_ratio("LangChain CPU s / RegQA CPU s", r["ratios"]["langchain_cpu_over_regqa_cpu"],
                "the same, less sensitive to other load on the machine")
    print_ratio("RegQA / LangChain tokens per CPU s", r["ratios"]["regqa_tokens_per_cpu_s_over_langchain"],
                "per word piece embedded: the pipelines cut different chunks")
    print_ratio("RegQA chunks/s / raw encode chunks/s", r["ratios"]["regqa_chunks_per_s_over_raw_ceiling"],
                "1.00 = RegQA adds nothing over its model")
    print_ratio("RegQA CPU s / raw encode CPU s", r["ratios"]["regqa_cpu_over_raw_ceiling_cpu"],
                "the same in CPU time")
    print_ratio(f"{backend} / torch fp32 tokens per CPU s",
                r["ratios"]["default_backend_over_torch_library_tokens_per_cpu_s"],
                "same sample, sentence-transformers at its best")
    r["targets"] = [target(f"index ≥ {SPEEDUP_TARGET}x faster than LangChain", speedup >= SPEEDUP_TARGET,
                           f"{speedup:.2f}x wall, {r['ratios']['langchain_cpu_over_regqa_cpu']:.2f}x CPU "
                           "(recall is compared in the query benchmark)")]


def _plot(r: dict[str, Any], out_dir: Path) -> None:
    import numpy as np

    fig, (left, right) = figure(2, width=5.5)
    ref, backend = r["torch_reference"], r["embedding_backend"]
    pipelines = {"RegQA": r["regqa"], "raw encode\n(ceiling)": r["raw_ceiling"], "LangChain": r["langchain"]}
    x = np.arange(len(pipelines))
    for shift, key, label in ((-0.2, "wall_s", "wall"), (0.2, "cpu_s", "CPU (this process)")):
        values = [m[key] for m in pipelines.values()]
        left.bar(x + shift, values, 0.4, label=label)
        for i, v in enumerate(values):
            left.annotate(f"{v:,.0f}", (x[i] + shift, v), ha="center", va="bottom", fontsize=8)
    left.set_xticks(x, list(pipelines))
    left.set_ylabel("seconds (lower is better)")
    left.set_title(f"Index the {r['variant']} corpus ({r['regqa']['chunks']:,} RegQA chunks)")
    left.legend(fontsize=8)
    rates = {f"RegQA\n({backend})": r["regqa"], "LangChain\n(torch)": r["langchain"],
             f"sample:\n{backend}": ref[f"default_{backend}"],
             "sample: torch\n(s-t, sorted)": ref["torch_library_sorted"],
             "sample: torch\n(RegQA embedder)": ref["torch_regqa_embedder"]}
    values = [m["tokens_per_cpu_s"] for m in rates.values()]
    right.bar(range(len(rates)), values, color=["#1f77b4", "#ff7f0e", "#9ecae1", "#fdae6b", "#fdd0a2"])
    for i, v in enumerate(values):
        right.annotate(f"{v:,.0f}", (i, v), ha="center", va="bottom", fontsize=8)
    right.set_xticks(range(len(rates)), list(rates), fontsize=7)
    right.set_ylabel("word pieces embedded per CPU second")
    right.set_title("Embedding throughput (higher is better)")
    save_figure(fig, out_dir, "index")
