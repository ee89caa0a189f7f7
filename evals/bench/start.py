"""Benchmark 5 — time to first answer on a fresh machine: warm start vs index-then-serve.

Both legs start from nothing a new user would have: an empty data folder and an empty model
cache (so the int8 ONNX export runs, as on a new machine). Measured from the moment the command
starts, by polling /readyz and asking one question as soon as it answers 200:

  before   `regqa index`, then `regqa serve` (what ./scripts/start.sh did): the server starts only
           once every passage is embedded
  now      `regqa serve --index` with REGQA_BUNDLED_VECTORS=false: chunks and BM25 are committed
           first, the server answers from exact references, keywords and titles, and dense
           vectors arrive in batches while it runs
  shipped  `regqa serve --index` on the defaults (what ./scripts/start.sh does): as `now`, with the
           bundled corpus's vectors read from indexer/data/bundled-vectors.npz instead of embedded

For each: seconds to the first answer, to full hybrid quality (/readyz `ready`), and whether the
vectors of the two finished indexes are identical (then `regqa eval` is necessarily equal). Also
the token budget: word pieces embedded, and the share that is repeated heading context."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from evals.bench.common import (
    console,
    free_port,
    load_average,
    machine,
    print_ratio,
    print_table,
    ratio,
    target,
    write_json,
)

QUESTION = "What does ECCN 3A981 control?"
FIRST_ANSWER_TARGET_S = 60.0
POLL_S = 0.25


def run(variant: Any, out_dir: Path, **_: Any) -> dict[str, Any]:  # noqa: ANN401 - evals.bench.common.Variant
    corpus = variant.corpus()
    work = variant.cache / "start"
    shutil.rmtree(work, ignore_errors=True)
    regqa = str(Path(sys.executable).with_name("regqa"))
    result: dict[str, Any] = {"benchmark": "start", "variant": variant.name, "machine": machine(),
                              "question": QUESTION, "legs": {}}
    console.rule(f"[bold]start[/bold] — time to first answer, {corpus}")
    for leg in ("before", "now", "shipped"):
        env = {**os.environ, "REGQA_DATA_DIR": str(work / leg / "data"), "REGQA_CORPUS_DIR": str(corpus),
               "REGQA_MODEL_CACHE_DIR": str(work / leg / "models"), "HF_HUB_OFFLINE": "1",
               "REGQA_BUNDLED_VECTORS": "true" if leg == "shipped" else "false"}
        for name in ("REGQA_CHROMA_URL", "REGQA_PAUSE_AT", "REGQA_API_KEYS"):
            env.pop(name, None)
        result["legs"][leg] = _leg(leg, regqa, env, work / leg)
    result["vectors_identical"] = _same_vectors(work / "before" / "data", work / "now" / "data")
    result["tokens"] = _token_budget(work / "now" / "data")
    result["load_average_1m_at_end"] = load_average()
    before, now, shipped = result["legs"]["before"], result["legs"]["now"], result["legs"]["shipped"]
    print_table("Time to first answer (s from the command's start; fresh data folder and model cache)",
                ["leg", "first answer", "full hybrid (ready)", "dense coverage at first answer", "load avg"],
                [(leg, r["first_answer_s"], r["ready_s"], r["first_answer_dense_coverage"], r["load_average_1m"])
                 for leg, r in result["legs"].items()])
    print_ratio("first answer, now / before", ratio(now["first_answer_s"], before["first_answer_s"]),
                "lower = the warm start answers sooner")
    print_ratio("full quality, now / before", ratio(now["ready_s"], before["ready_s"]),
                "about 1 = the warm start costs the full index nothing")
    print_ratio("full quality, shipped / now", ratio(shipped["ready_s"], now["ready_s"]),
                "lower = the shipped vectors spare the first start its embedding")
    tokens = result["tokens"]
    console.print(f"word pieces embedded: {tokens['embedded']:,} ({tokens['context']:,} of them heading context, "
                  f"{tokens['context_share']:.0%}) over {tokens['chunks']:,} chunks")
    result["targets"] = [
        target("first answer <= 60 s", now["first_answer_s"] <= FIRST_ANSWER_TARGET_S,
               f"{now['first_answer_s']} s (before: {before['first_answer_s']} s)"),
        target("full quality with the shipped vectors <= 60 s", shipped["ready_s"] <= FIRST_ANSWER_TARGET_S,
               f"{shipped['ready_s']} s (embedding on this machine: {now['ready_s']} s)"),
        target("no quality lost", bool(result["vectors_identical"]),
               "the finished warm-start index has exactly the vectors of an index-then-serve one"),
    ]
    write_json(out_dir, "start", result)
    return result


def _leg(leg: str, regqa: str, env: dict[str, str], folder: Path) -> dict[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = (folder / "serve.log").open("w")
    started = time.perf_counter()
    record: dict[str, Any] = {"load_average_1m": load_average()}
    if leg == "before":
        with console.status("before: regqa index (the whole corpus is embedded first)"):
            subprocess.run([regqa, "index"], env=env, stdout=log, stderr=subprocess.STDOUT, check=True)
        record["index_s"] = round(time.perf_counter() - started, 1)
        command = [regqa, "serve", "--port", str(port)]
    else:
        command = [regqa, "serve", "--index", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        with console.status(f"{leg}: waiting for the first answer"):
            while True:
                state = _ready(base)
                if state is not None:
                    answer = _answer(base, leg)
                    record["first_answer_s"] = round(time.perf_counter() - started, 1)
                    record["first_answer_dense_coverage"] = answer.get("dense_coverage", 1.0)
                    record["first_answer_citations"] = [c["section"] for c in answer["citations"]]
                    break
                if server.poll() is not None:
                    raise RuntimeError(f"{leg}: the server ended: {(folder / 'serve.log').read_text()[-2000:]}")
                time.sleep(POLL_S)
        with console.status(f"{leg}: waiting for full hybrid quality"):
            while (state := _ready(base)) is None or state["status"] != "ready":
                if server.poll() is not None:
                    raise RuntimeError(f"{leg}: the server ended (exit {server.returncode}) before full quality: "
                                       f"{(folder / 'serve.log').read_text()[-2000:]}")
                time.sleep(1.0)
        record["ready_s"] = round(time.perf_counter() - started, 1)
        answer = _answer(base, leg)
        record["ready_answer_citations"] = [c["section"] for c in answer["citations"]]
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
    console.print(f"{leg}: first answer at {record['first_answer_s']} s, full quality at {record['ready_s']} s")
    return record


def _answer(base: str, leg: str) -> dict[str, Any]:
    """The answer to QUESTION; a failed request ends the run with what the server said (a
    server that errors while warming up is a finding, not a slow answer)."""
    import httpx

    response = httpx.post(f"{base}/v1/answer", json={"question": QUESTION}, timeout=600)
    if response.status_code != 200:
        raise RuntimeError(f"{leg}: /v1/answer answered {response.status_code}: {response.text[:500]}")
    return response.json()


def _ready(base: str) -> dict[str, Any] | None:
    import httpx

    try:
        response = httpx.get(f"{base}/readyz", timeout=5)
    except httpx.HTTPError:
        return None
    return response.json() if response.status_code == 200 else None


def _same_vectors(a: Path, b: Path) -> bool:
    from indexer.reader import IndexReader
    from regqa.config import Settings

    left = IndexReader(Settings(data_dir=a)).snapshot()
    right = IndexReader(Settings(data_dir=b)).snapshot()
    if left.sparse.ids != right.sparse.ids or left.vectors is None or right.vectors is None:
        return False
    return bool(np.array_equal(left.vectors, right.vectors))


def _token_budget(data: Path) -> dict[str, Any]:
    """Word pieces embedded (`embed_text`: heading context + passage) against the passages alone."""
    from indexer.store import IndexStore
    from indexer.tokens import TokenCounter
    from regqa.config import Settings

    settings = Settings(data_dir=data)
    store = IndexStore(settings.index_dir)
    chunks = store.read_chunks(store.read_manifest().generation)
    counter = TokenCounter(settings.model_path)
    embedded = sum(counter.count(c.embed_text) for c in chunks)
    body = sum(counter.count(c.text) for c in chunks)
    return {"chunks": len(chunks), "embedded": embedded, "passages": body, "context": embedded - body,
            "context_share": round((embedded - body) / max(1, embedded), 3)}
