"""Writers and readers at once: a CLI re-index runs while a real `regqa serve` answers a steady
stream of queries and an admin uploads a document through the API.

The upload must get a clear 409 "busy" and lose nothing; every query must succeed and return
passages of one committed generation — the old or the new, never a mix, never a chunk that a
commit deleted. (A second writer in one process is covered by test_index.py; this is the
cross-process case: the API server against the CLI.)

So that the upload certainly meets the CLI's lock, the CLI is held just before its commit by
the audit hook of test_crash_safety.py, and let go once the upload and a `regqa check` have
been refused; the request rate is measured while the CLI works, not while it is held.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from indexer.check import CheckReport, check_index
from indexer.embeddings import Embedder
from indexer.pipeline import Indexer
from indexer.store import IndexStore
from regqa.config import Settings

from .conftest import CORPUS, SMALL_DOCS, free_port, running
from .test_crash_safety import (
    NEW_SECTION,
    REGQA,
    Watched,
    change_corpus,
    install_pause_hook,
    regqa_env,
    write_register,
)
from .test_crash_safety import cli as run_cli

pytestmark = pytest.mark.slow

READ_KEY, ADMIN_KEY = "read-key-0123456789abcdef", "admin-key-0123456789abcdef"
CLIENTS = 3
# Questions whose passages differ between the old and the new generation, and one that does not.
QUERIES = [
    ("search", "What are cyber-surveillance items?"),
    ("answer", f"What does {NEW_SECTION} say about thermal imaging cameras?"),
    ("search", "export control provisions coverage of reexports and foreign products"),
    ("answer", "What does the UK Export Control Order 2008 control?"),
    ("search", "surveillance camera model listed for licensing"),
]
NOTE = b"# Export note\n\n## Article 1\n\nSurveillance cameras need an authorisation under this note.\n"
NOTE_META = "id: export-note\ncite_as: Export Note 2026\ndoc_type: guidance\njurisdiction: UK\n"


@dataclass
class Reply:
    """One answered request: what it returned, as (chunk id, text it showed from that chunk)."""

    route: str
    started: float
    ended: float
    passages: list[tuple[str, str]]


@dataclass
class Scene:
    old: dict[str, str]  # chunk id -> text, the generation committed before the re-index
    new: dict[str, str]  # the generation the CLI committed
    replies: list[Reply]
    errors: list[str]
    working: list[tuple[float, float]]  # when the CLI run was working (not held)
    busy: httpx.Response
    stored_while_busy: list[str]  # files under uploads/ right after the refused upload
    check_busy: subprocess.CompletedProcess[str]
    retry: httpx.Response
    documents: list[str]
    check: CheckReport
    load_report: Path

    def during_reindex(self) -> list[Reply]:
        return during(self.replies, self.working)


@dataclass
class Hammer:
    """CLIENTS threads sending QUERIES in turn until stopped; every failure is recorded."""

    base: str
    replies: list[Reply] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self.threads = [threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(CLIENTS)]
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=120)

    def _client(self, n: int) -> None:
        headers = {"Authorization": f"Bearer {READ_KEY}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=120) as client:
            i = n
            while not self.stop.is_set():
                route, text = QUERIES[i % len(QUERIES)]
                i += 1
                started = time.monotonic()
                try:
                    reply = self._ask(client, route, text)
                except Exception as exc:  # noqa: BLE001 - any failure is a finding
                    self.errors.append(f"{route} {text!r}: {type(exc).__name__}: {exc}")
                    continue
                self.replies.append(Reply(route, started, time.monotonic(), reply))

    @staticmethod
    def _ask(client: httpx.Client, route: str, text: str) -> list[tuple[str, str]]:
        if route == "search":
            response = client.post("/v1/search", json={"query": text, "top_k": 5})
            response.raise_for_status()
            return [(h["passage"]["chunk_id"], h["passage"]["text"]) for h in response.json()["hits"]]
        response = client.post("/v1/answer", json={"question": text})
        response.raise_for_status()
        record = response.json()
        return [(c["chunk_id"], c["quote"]) for c in record["citations"]] + \
            [(r["chunk_id"], "") for r in record["retrieved"]]


def during(replies: list[Reply], windows: list[tuple[float, float]]) -> list[Reply]:
    return [r for r in replies if any(start <= r.started and r.ended <= end for start, end in windows)]


def _chunks(settings: Settings) -> dict[str, str]:
    store = IndexStore(settings.index_dir)
    return {c.chunk_id: c.text for c in store.read_chunks(store.read_manifest().generation)}


def _upload(base: str) -> httpx.Response:
    return httpx.post(f"{base}/v1/documents", files={"file": ("export-note.md", NOTE, "text/markdown")},
                      data={"metadata": NOTE_META}, headers={"X-API-Key": ADMIN_KEY}, timeout=300)


def _generation(base: str) -> str:
    return httpx.get(f"{base}/readyz", timeout=30).json().get("generation", "")


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Iterator[Scene]:
    """The small corpus indexed and served; then the CLI re-indexes it under load."""
    root = tmp_path_factory.mktemp("concurrent")
    corpus = root / "corpus"
    for rel in SMALL_DOCS:
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(CORPUS / rel, corpus / rel)
    settings = Settings(data_dir=root / "data", corpus_dir=corpus)
    Indexer(settings, embedder_factory=lambda: embedder).run()
    old = _chunks(settings)
    change_corpus(corpus)
    write_register(corpus, entries=128)  # enough model work for the run to last a while

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**regqa_env(settings), "REGQA_API_KEYS": f"{READ_KEY}:read,{ADMIN_KEY}:admin"}
    release = root / "release"
    held = regqa_env(settings, pause=f"before-rename:{settings.index_dir / 'manifest.json'}",
                     hook_dir=install_pause_hook(root / "hook"), release=release)
    with running([str(REGQA), "serve", "--port", str(port)], f"{base}/readyz", root / "serve.log", env):
        hammer = Hammer(base)
        hammer.start()
        started = time.monotonic()
        with Watched(["index"], held) as cli:
            cli.wait_for(lambda line: line.startswith("PAUSED"), "its commit")
            paused = time.monotonic()
            busy = _upload(base)  # the CLI holds the write lock for its whole run
            stored_while_busy = sorted(p.name for p in (settings.index_dir / "uploads").rglob("*"))
            check_busy = run_cli("check", env=regqa_env(settings))
            release.touch()
            resumed = time.monotonic()
            assert cli.process.wait(timeout=600) == 0, "".join(cli.lines)[-3000:]
            ended = time.monotonic()
        new = _chunks(settings)
        generation = IndexStore(settings.index_dir).read_manifest().generation
        deadline = time.monotonic() + 120  # against a hang only
        while _generation(base) != generation and time.monotonic() < deadline:
            time.sleep(0.2)
        switched = len(hammer.replies)
        while len(hammer.replies) < switched + 3 * CLIENTS and time.monotonic() < deadline:
            time.sleep(0.1)  # a few replies from the new generation too
        hammer.finish()
        retry = _upload(base)
        documents = [d["id"] for d in httpx.get(f"{base}/v1/documents", headers={"X-API-Key": READ_KEY}).json()]
    check = check_index(settings)

    working = [(started, paused), (resumed, ended)]
    seconds = sum(end - start for start, end in working)
    counted = during(hammer.replies, working)
    load = {"clients": CLIENTS, "reindex_seconds": round(seconds, 2), "requests_during_reindex": len(counted),
            "requests_per_second": round(len(counted) / seconds, 2), "errors": len(hammer.errors)}
    report = tmp_path_factory.getbasetemp() / "reindex-load.json"
    report.write_text(json.dumps(load, indent=1))
    print(f"\nload held while re-indexing: {load}")
    yield Scene(old, new, hammer.replies, hammer.errors, working, busy, stored_while_busy, check_busy, retry, documents, check,
                report)


def test_an_upload_during_a_cli_reindex_is_told_busy_and_nothing_is_lost(scene: Scene) -> None:
    assert scene.busy.status_code == 409, scene.busy.text
    error = scene.busy.json()["error"]
    assert error["code"] == "busy" and "another indexing run" in error["message"]
    assert scene.busy.headers["retry-after"]
    assert scene.stored_while_busy == []  # refused before a byte was stored
    assert scene.check_busy.returncode == 75 and "Busy:" in scene.check_busy.stderr  # so is `regqa check`
    # The CLI's run committed everything it was asked to...
    assert any(text.startswith("Camera model SR-128 ") for text in scene.new.values())
    assert not any(cid.startswith("uk-export-control-order-2008:") for cid in scene.new)
    # ...and the refused upload, sent again, is indexed beside it.
    assert scene.retry.status_code == 201, scene.retry.text
    assert scene.retry.json()["document_ids"] == ["export-note"]
    assert {"export-note", "synthetic-register", "eu-2024-2659-cyber-surveillance-guidelines",
            "15-cfr-part-730"} <= set(scene.documents)
    assert scene.check.healthy, scene.check.problems


def test_queries_during_a_reindex_never_fail_nor_mix_generations(scene: Scene) -> None:
    assert scene.errors == []
    assert scene.during_reindex(), "no request completed while the CLI re-indexed"
    generations = {"old": scene.old, "new": scene.new}
    seen = set()
    for reply in scene.replies:
        ids = {cid for cid, _ in reply.passages}
        served = [name for name, chunks in generations.items() if ids <= chunks.keys()]
        assert served, f"{reply.route} mixed generations or cited a deleted chunk: {sorted(ids)}"
        chunks = generations[served[0]]
        for cid, shown in reply.passages:
            assert shown in chunks[cid]  # the passage text (search) or quote (answer) of that chunk
        if len(served) == 1:
            seen.add(served[0])
    assert seen == {"old", "new"}  # the stream of queries spanned the switch
    assert json.loads(scene.load_report.read_text())["errors"] == 0
