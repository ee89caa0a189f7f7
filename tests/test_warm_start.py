"""`regqa serve --index` (what ./scripts/start.sh runs): the server answers while a background
`regqa index` is still embedding the corpus, says so, and reaches full hybrid search when it ends.

Real processes throughout: the server, its child indexer, the model and embedded Chroma. The
child is held at its `after-first-upsert-batch` pause point (indexer/pause.py), so the test sees
the warm state for certain rather than racing the embedder; then it is let go."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from indexer.progress import IndexProgress
from regqa.config import Settings

from .conftest import CORPUS, SMALL_DOCS, free_port
from .processes import HANG, Watched, regqa_env

pytestmark = pytest.mark.slow

QUESTION = "What does the dual-use regulation say about authorisations for cyber-surveillance items?"


def _until(condition: Callable[[], object], what: str) -> object:
    """Polls a condition the way a readiness probe does; the deadline only guards against a hang."""
    deadline = time.monotonic() + HANG
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.2)


def _ready(base: str, status: str) -> Callable[[], dict | None]:
    def probe() -> dict | None:
        try:
            body = httpx.get(f"{base}/readyz", timeout=30).json()
        except httpx.HTTPError:
            return None
        # Warming counts once the first vectors are in: the reader loads them on its next look.
        wanted = body.get("status") == status and (status == "ready" or body.get("dense_coverage", 0) > 0)
        return body if wanted else None
    return probe


def test_serve_with_index_answers_while_the_corpus_is_still_being_embedded(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    for rel in SMALL_DOCS:
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(CORPUS / rel, corpus / rel)
    settings = Settings(data_dir=tmp_path / "data", corpus_dir=corpus)
    pause = tmp_path / "pause"
    env = regqa_env(settings, pause=["after-first-upsert-batch"], pause_dir=pause)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = Watched(["serve", "--index", "--port", str(port)], env)
    try:
        server.wait_for(lambda line: line.startswith("RegQA is running"), "the server's start line")
        _until((pause / "after-first-upsert-batch.paused").exists, "the child indexer's first stored vectors")
        warming = _until(_ready(base, "warming"), "/readyz to report the warm state")
        assert 0 < warming["dense_coverage"] < 1 and warming["chunks"] > 256
        assert warming["indexing"].startswith("embedding passages")

        answer = httpx.post(f"{base}/v1/answer", json={"question": QUESTION}, timeout=HANG).json()
        assert answer["citations"] and not answer["abstained"]
        assert 0 < answer["dense_coverage"] < 1 and {"keywords", "titles", "dense"} <= set(answer["signals"])
        assert any("still warming up" in notice for notice in answer["notices"])

        (pause / "after-first-upsert-batch.release").touch()
        line = server.wait_for(lambda text: text.startswith("Index up to date"), "the end of the background run")
        assert f"{len(SMALL_DOCS)} documents" in line
        ready = _until(_ready(base, "ready"), "/readyz to report the whole index")
        assert ready["dense_coverage"] == 1.0 and ready["indexing"] is None
        answer = httpx.post(f"{base}/v1/answer", json={"question": QUESTION}, timeout=HANG).json()
        assert answer["dense_coverage"] == 1.0 and not any("warming" in n for n in answer["notices"])
    finally:
        server.process.terminate()
        server.finish()
    progress = IndexProgress.read(settings.index_dir)
    assert progress is not None and progress.stage == "done" and not progress.alive


def test_stopping_the_server_stops_its_indexer_and_the_next_start_completes_the_index(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    rel = SMALL_DOCS[0]
    (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(CORPUS / rel, corpus / rel)
    settings = Settings(data_dir=tmp_path / "data", corpus_dir=corpus)
    pause = tmp_path / "pause"
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = Watched(["serve", "--index", "--port", str(port)],
                     regqa_env(settings, pause=["after-first-upsert-batch"], pause_dir=pause))
    try:
        server.wait_for(lambda line: line.startswith("RegQA is running"), "the server's start line")
        _until((pause / "after-first-upsert-batch.paused").exists, "the child indexer's first stored vectors")
        child = int((pause / "after-first-upsert-batch.paused").read_text())
    finally:
        server.process.terminate()  # as Ctrl-C or a service manager would
        server.finish()
    progress = IndexProgress.read(settings.index_dir)
    assert progress is not None and progress.pid == child and progress.stage == "embed"
    _until(lambda: not progress.alive, "the child indexer to stop with its server")  # the kernel signals it

    server = Watched(["serve", "--index", "--port", str(port)], regqa_env(settings))
    try:
        server.wait_for(lambda text: text.startswith("Index up to date"), "the second start's index run")
        ready = _until(_ready(base, "ready"), "/readyz to report the whole index")
        assert ready["dense_coverage"] == 1.0
    finally:
        server.process.terminate()
        server.finish()
