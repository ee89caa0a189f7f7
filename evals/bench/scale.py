"""Benchmark 4 — retrieval latency against index size, on a real `chroma run` server.

Synthetic, clustered, unit-norm 384-dim float32 vectors (the shape of all-MiniLM-L6-v2's) with a
`jurisdiction` metadata drawn with skewed shares, grown step by step to 10k, 100k and — if its
extrapolated insert time fits the budget — 1M. At each size, top-10 latency and recall@10
against exact search, for the four ways to restrict a query to one jurisdiction:

  unfiltered      one collection, no filter (the floor)
  where           one collection, `where={"jurisdiction": J}` (Chroma pre-filters)
  over-fetch      one collection, no filter, n_results sized from J's share (2·k/share), then
                  the hits of other jurisdictions dropped client-side
  partition       one collection per jurisdiction, no filter
  exact (numpy)   RegQA's own dense search below `exact_search_limit`: a matrix-vector
                  product over the vectors held in memory, masked for a filter (indexer/reader.py)

A common jurisdiction (US, 50 %) and a rare one (Wassenaar, 5 %) are measured, since filter cost
and over-fetch misses both depend on selectivity. Only the two queried partitions are built
(to save insert time): a partitioned deployment would hold all four."""

from __future__ import annotations

import math
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from evals.bench.common import (
    Stopwatch,
    Variant,
    console,
    figure,
    free_port,
    load_average,
    machine,
    mib,
    print_ratio,
    print_table,
    progress_bar,
    ratio,
    rss_bytes,
    running,
    save_figure,
    summarize,
    write_json,
)

DIM = 384
K = 10
SHARES = {"US": 0.50, "EU": 0.30, "UK": 0.15, "Wassenaar": 0.05}
QUERIED = ("US", "Wassenaar")
CLUSTERS = 2000
NOISE = 0.8  # ‖noise‖ relative to a unit centre: same-cluster cosine ≈ 0.6, like related passages
SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (10_000, 30_000)
HNSW_M = 16  # Chroma's default; used in the memory arithmetic
SEED = 6


def run(variant: Variant, out_dir: Path, max_insert_minutes: float = 25.0) -> dict[str, Any]:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    sizes = QUICK_SIZES if variant.quick else SIZES
    queries_per_mode = 50 if variant.quick else 200
    result: dict[str, Any] = {
        "benchmark": "scale", "variant": variant.name, "machine": machine(), "dim": DIM, "k": K,
        "shares": SHARES, "queried": QUERIED, "queries_per_mode": queries_per_mode,
        "max_insert_minutes": max_insert_minutes, "steps": [], "skipped": [],
    }
    console.rule(f"[bold]scale[/bold] — sizes {', '.join(f'{s:,}' for s in sizes)}")
    rng = np.random.default_rng(SEED)
    centres = _unit(rng.standard_normal((CLUSTERS, DIM)).astype(np.float32))
    names = np.array(list(SHARES))
    queries = _vectors(rng, centres, queries_per_mode)

    data_dir = variant.cache / "chroma-scale"
    shutil.rmtree(data_dir, ignore_errors=True)
    port = free_port()
    command = [str(Path(sys.executable).with_name("chroma")), "run", "--path", str(data_dir),
               "--host", "127.0.0.1", "--port", str(port)]
    env = {**os.environ, "ANONYMIZED_TELEMETRY": "False"}
    with running(command, f"http://127.0.0.1:{port}/api/v2/heartbeat", variant.cache / "chroma.log",
                 env, timeout=60) as server:
        client = chromadb.HttpClient(host="127.0.0.1", port=port,
                                     settings=ChromaSettings(anonymized_telemetry=False))
        batch = min(client.get_max_batch_size(), 4096)
        space = {"hnsw:space": "cosine"}
        everything = client.create_collection("bench-all", embedding_function=None, metadata=space)
        partitions = {j: client.create_collection(f"bench-{j.lower()}", embedding_function=None,
                                                  metadata=space) for j in QUERIED}
        result["chroma_batch_size"] = batch
        result["hnsw_configuration"] = str(getattr(everything, "configuration_json", None)
                                           or getattr(everything, "metadata", None))
        vectors = np.zeros((0, DIM), dtype=np.float32)
        labels = np.zeros(0, dtype=names.dtype)
        for size in sizes:
            if result["steps"]:
                projected = _projected_insert_s(result["steps"], size)
                if projected / 60 > max_insert_minutes:
                    result["skipped"].append({"size": size, "projected_insert_s": round(projected),
                                              "reason": f"extrapolated insert time {projected / 60:.0f} min "
                                                        f"> budget {max_insert_minutes:.0f} min"})
                    console.print(f"[yellow]skipping {size:,}[/yellow]: projected insert "
                                  f"{projected / 60:.0f} min > {max_insert_minutes:.0f} min budget")
                    continue
            new = size - len(vectors)
            add_vectors = _vectors(rng, centres, new)
            add_labels = rng.choice(names, size=new, p=list(SHARES.values()))
            offset = len(vectors)
            step: dict[str, Any] = {"size": size, "added": new}
            step["insert_s_all"] = _insert(everything, add_vectors, add_labels, offset, batch, f"{size:,}: all")
            step["insert_s_partitions"] = 0.0
            for j, collection in partitions.items():
                mask = add_labels == j
                step["insert_s_partitions"] += _insert(collection, add_vectors[mask], add_labels[mask],
                                                       offset, batch, f"{size:,}: {j} only",
                                                       ids=np.flatnonzero(mask) + offset)
            step["insert_vectors_per_s_all"] = round(new / step["insert_s_all"])
            vectors = np.vstack([vectors, add_vectors])
            labels = np.concatenate([labels, add_labels])
            step["settle_s"] = _wait_idle(server.pid)
            step["modes"] = _measure(everything, partitions, vectors, labels, queries)
            step["chroma_rss_mib"] = mib(rss_bytes(server.pid))
            step["chroma_disk_mib"] = mib(_disk_bytes(data_dir))
            step["numpy_vectors_mib"] = mib(vectors.nbytes)
            # The server holds the whole set plus the two partitions built beside it.
            step["vectors_in_server"] = size + sum(int((labels == j).sum()) for j in QUERIED)
            step["memory_model_mib"] = mib(hnsw_bytes(step["vectors_in_server"]))
            step["load_average_1m"] = load_average()
            result["steps"].append(step)
            _print_step(step)
    result["filter_strategy"] = _verdict(result["steps"])
    result["load_average_1m_at_end"] = load_average()
    write_json(out_dir, "scale", result)
    _plot(result, out_dir)
    return result


def hnsw_bytes(n: int, dim: int = DIM, m: int = HNSW_M) -> float:
    """hnswlib's memory for n vectors: per element the float32 vector, 2M level-0 links of 4
    bytes plus a 4-byte count, an 8-byte label; about 1/(M-1) of elements sit on upper levels
    with M links each. Chroma's SQLite metadata and log come on top (measured on disk)."""
    per_element = dim * 4 + (2 * m * 4 + 4) + 8 + (m * 4 + 4) / (m - 1)
    return n * per_element


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def _vectors(rng: np.random.Generator, centres: np.ndarray, n: int) -> np.ndarray:
    noise = rng.standard_normal((n, DIM)).astype(np.float32) * (NOISE / math.sqrt(DIM))
    return _unit(centres[rng.integers(0, len(centres), n)] + noise).astype(np.float32)


def _insert(collection: Any, vectors: np.ndarray, labels: np.ndarray, offset: int, batch: int,
            label: str, ids: np.ndarray | None = None) -> float:
    ids = ids if ids is not None else np.arange(offset, offset + len(vectors))
    with progress_bar() as bar, Stopwatch() as sw:
        task = bar.add_task(f"insert {label}", total=len(vectors))
        for i in range(0, len(vectors), batch):
            collection.add(ids=[str(x) for x in ids[i : i + batch]], embeddings=vectors[i : i + batch],
                           metadatas=[{"jurisdiction": str(j)} for j in labels[i : i + batch]])
            bar.advance(task, min(batch, len(vectors) - i))
    return round(sw.seconds, 2)


def _wait_idle(pid: int, limit_s: float = 300.0) -> float:
    """Wait until the Chroma server stops working in the background after the inserts (its
    CPU below 10 % of a core for two seconds running), so that work is not charged to the
    first queries measured; returns the seconds waited."""
    import psutil

    process = psutil.Process(pid)
    started = time.perf_counter()
    quiet = 0
    with console.status("waiting for the Chroma server to settle after the inserts"):
        while quiet < 2 and time.perf_counter() - started < limit_s:
            busy = process.cpu_percent(interval=1.0) + sum(
                c.cpu_percent(interval=None) for c in process.children(recursive=True))
            quiet = quiet + 1 if busy < 10.0 else 0
    return round(time.perf_counter() - started, 1)


def _projected_insert_s(steps: list[dict[str, Any]], size: int) -> float:
    """Extrapolated from the last step's rate (all + partitions); a lower bound, since HNSW
    inserts slow down as the graph grows (log n per insert)."""
    last = steps[-1]
    per_vector = (last["insert_s_all"] + last["insert_s_partitions"]) / last["added"]
    return (size - last["size"]) * per_vector


def _measure(everything: Any, partitions: dict[str, Any], vectors: np.ndarray,
             labels: np.ndarray, queries: np.ndarray) -> dict[str, Any]:
    """Every mode over the same queries. The numpy modes run first, while the Chroma server is
    idle: its worker threads, still spinning after a query series, would slow numpy's BLAS
    threads on the same two cores (seen as a flat ~8 ms per product at 10k otherwise)."""
    n = len(vectors)
    masks = {j: labels == j for j in QUERIED}
    truth = {None: [_exact(vectors, q, None)[1] for q in queries]}
    truth.update({j: [_exact(vectors, q, masks[j])[1] for q in queries] for j in QUERIED})
    exact = {"numpy exact unfiltered": _timed(queries, truth[None], lambda q: _exact(vectors, q, None)[1])}
    for j in QUERIED:
        time.sleep(0.5)
        exact[f"numpy exact filtered {j}"] = _timed(
            queries, truth[j], lambda q, mask=masks[j]: _exact(vectors, q, mask)[1])
    for q in queries[:10]:  # warm-up: the first queries after inserts load the index
        everything.query(query_embeddings=[q], n_results=K, include=["distances"])
    modes: dict[str, Any] = {"chroma unfiltered": _timed(queries, truth[None], lambda q: _ids(
        everything.query(query_embeddings=[q], n_results=K, include=["distances"])))}
    modes["numpy exact unfiltered"] = exact["numpy exact unfiltered"]
    for j in QUERIED:
        share = float(masks[j].mean())
        fetch = min(n, math.ceil(2 * K / max(share, 1e-9)))
        modes[f"chroma where {j}"] = _timed(queries, truth[j], lambda q, j=j: _ids(everything.query(
            query_embeddings=[q], n_results=K, where={"jurisdiction": j}, include=["distances"])))
        modes[f"chroma over-fetch {j}"] = _timed(
            queries, truth[j], lambda q, j=j, fetch=fetch: _over_fetch(everything, q, j, fetch))
        modes[f"chroma over-fetch {j}"]["n_results_fetched"] = fetch
        modes[f"chroma partition {j}"] = _timed(queries, truth[j], lambda q, j=j: _ids(partitions[j].query(
            query_embeddings=[q], n_results=K, include=["distances"])))
        modes[f"numpy exact filtered {j}"] = exact[f"numpy exact filtered {j}"]
        for key in (f"chroma where {j}", f"chroma over-fetch {j}", f"chroma partition {j}",
                    f"numpy exact filtered {j}"):
            modes[key]["share"] = round(share, 4)
    return modes


def _ids(result: dict[str, Any]) -> list[int]:
    return [int(x) for x in result["ids"][0]]


def _over_fetch(collection: Any, q: np.ndarray, jurisdiction: str, fetch: int) -> list[int]:
    got = collection.query(query_embeddings=[q], n_results=fetch, include=["metadatas"])
    kept = [int(i) for i, meta in zip(got["ids"][0], got["metadatas"][0])
            if meta and meta.get("jurisdiction") == jurisdiction]
    return kept[:K]


def _exact(vectors: np.ndarray, q: np.ndarray, mask: np.ndarray | None) -> tuple[np.ndarray, list[int]]:
    """What indexer/reader.py does below exact_search_limit: scores, mask, argpartition, sort."""
    scores = vectors @ q
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    top = np.argpartition(-scores, K - 1)[:K]
    top = top[np.lexsort((top, -scores[top]))]
    return scores, [int(i) for i in top if np.isfinite(scores[i])]


def _timed(queries: np.ndarray, truth: list[list[int]], search: Any) -> dict[str, Any]:
    latencies: list[float] = []
    recalls: list[float] = []
    short = 0
    for q, expected in zip(queries, truth):
        started = time.perf_counter()
        got = search(q)
        latencies.append((time.perf_counter() - started) * 1000)
        recalls.append(len(set(got) & set(expected)) / max(1, len(expected)))
        short += len(got) < min(K, len(expected))
    return {"latency_ms": summarize(latencies), "recall_at_10": round(float(np.mean(recalls)), 4),
            "queries_with_fewer_than_k": short}


def _disk_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _print_step(step: dict[str, Any]) -> None:
    rows = [(mode, m["latency_ms"]["p50"], m["latency_ms"]["p95"], m["recall_at_10"],
             m["queries_with_fewer_than_k"]) for mode, m in step["modes"].items()]
    print_table(f"{step['size']:,} vectors — inserted {step['added']:,} in {step['insert_s_all']:.0f} s "
                f"({step['insert_vectors_per_s_all']:,}/s) + partitions {step['insert_s_partitions']:.0f} s, "
                f"settled in {step['settle_s']:.0f} s; "
                f"Chroma RSS {step['chroma_rss_mib']:,.0f} MiB, disk {step['chroma_disk_mib']:,.0f} MiB",
                ["mode", "p50 ms", "p95 ms", "recall@10", "short answers"], rows)
    base = step["modes"]["chroma unfiltered"]["latency_ms"]["p50"]
    for j in QUERIED:
        print_ratio(f"where {j} / unfiltered p50", ratio(step["modes"][f"chroma where {j}"]["latency_ms"]["p50"],
                                                          base), "the cost of Chroma's filter")


def _verdict(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Per size and jurisdiction, the fastest Chroma strategy with recall@10 ≥ 0.9 (quality first)."""
    verdict: dict[str, Any] = {}
    for step in steps:
        for j in QUERIED:
            options = {name: step["modes"][f"chroma {name} {j}"] for name in ("where", "over-fetch", "partition")}
            good = {k: v for k, v in options.items() if v["recall_at_10"] >= 0.9} or options
            best = min(good, key=lambda k: good[k]["latency_ms"]["p95"])
            verdict[f"{step['size']}:{j}"] = {
                "best": best, **{f"{k}_p95_ms": v["latency_ms"]["p95"] for k, v in options.items()},
                **{f"{k}_recall": v["recall_at_10"] for k, v in options.items()}}
    return verdict


def _plot(r: dict[str, Any], out_dir: Path) -> None:
    fig, (left, right) = figure(2, width=6.0, height=4.5)
    steps = r["steps"]
    sizes = [s["size"] for s in steps]
    styles = {"chroma unfiltered": ("black", "-"), "numpy exact unfiltered": ("grey", "--")}
    colours = {"US": "#1f77b4", "Wassenaar": "#d62728"}
    for j in QUERIED:
        styles.update({f"chroma where {j}": (colours[j], "-"), f"chroma over-fetch {j}": (colours[j], "--"),
                       f"chroma partition {j}": (colours[j], ":"), f"numpy exact filtered {j}": (colours[j], "-.")})
    for mode, (colour, style) in styles.items():
        p95 = [s["modes"][mode]["latency_ms"]["p95"] for s in steps]
        left.plot(sizes, p95, style, color=colour, marker="o", markersize=3, label=mode)
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("vectors in the index")
    left.set_ylabel("top-10 latency p95, ms (log)")
    left.set_title("Query latency vs index size (Chroma over loopback HTTP)")
    left.legend(fontsize=6, ncol=2)
    in_server = 1 + sum(SHARES[j] for j in QUERIED)  # the whole set plus the queried partitions
    modelled = sizes + [s["size"] for s in r["skipped"]]
    model = [hnsw_bytes(int(n * in_server)) / 2**20 for n in modelled]
    right.plot(sizes, [s["chroma_rss_mib"] for s in steps], "o-", label="Chroma server RSS")
    right.plot(sizes, [s["chroma_disk_mib"] for s in steps], "s-", label="Chroma data on disk")
    right.plot(modelled, model, "k--", label=f"hnswlib model, {in_server:.2f}x the vectors (all + partitions)")
    right.plot(sizes, [s["numpy_vectors_mib"] for s in steps], ":", color="grey", label="raw float32 vectors")
    for skipped in r["skipped"]:
        right.axvline(skipped["size"], color="orange", linestyle=":", linewidth=1)
        right.annotate(f"{skipped['size']:,}: not run, modelled only\n"
                       f"(projected insert {skipped['projected_insert_s'] / 60:.0f} min)",
                       (skipped["size"], hnsw_bytes(int(skipped["size"] * in_server)) / 2**20), fontsize=7,
                       ha="right")
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("vectors in the index")
    right.set_ylabel("MiB (log)")
    right.set_title("Memory and disk")
    right.legend(fontsize=7)
    save_figure(fig, out_dir, "scale")
