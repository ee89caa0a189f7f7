"""Writers and readers at once: a CLI re-index runs while a real `regqa serve` answers a steady
stream of queries and an admin uploads a document through the API.

The upload must get a clear 409 "busy" and lose nothing; every query must succeed and return
passages of one committed generation — the old or the new, never a mix, never a chunk that a
commit deleted. (A second writer in one process is covered by test_index.py; this is the
cross-process case: the API server against the CLI.)

Nothing here depends on timing. The CLI is held at two named pause points of the indexer
(indexer/pause.py): after its first batch of vectors is stored, until every query has been
answered at least twice in that state (new vectors in Chroma, old generation committed); and just
before its commit, where the upload and a `regqa check` must meet its lock. After the commit the
test waits until the server reports the new generation, then for replies from it. The request rate
while the CLI works (not while it is held) is reported, never asserted.
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
from .processes import HANG, NEW_SECTION, REGQA, Watched, change_corpus, regqa_env, write_register
from .processes import cli as run_cli

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

    question: tuple[str, str]  # (route, text), one of QUERIES
    started: float
    ended: float
    passages: list[tuple[str, str]]


@dataclass
class Scene:
    old: dict[str, str]  # chunk id -> text, the generation committed before the re-index
    new: dict[str, str]  # the generation the CLI committed
    replies: list[Reply]
    errors: list[str]
    held_mid_run: list[Reply]  # answered while the CLI was held with its first vectors stored
    after_switch: list[Reply]  # started once the server reported the new generation
    busy: httpx.Response
    stored_while_busy: list[str]  # files under uploads/ right after the refused upload
    check_busy: subprocess.CompletedProcess[str]
    retry: httpx.Response
    documents: list[str]
    check: CheckReport
    load_report: Path


@dataclass
class Hammer:
    """CLIENTS threads sending QUERIES in turn until stopped; every reply and failure is recorded."""

    base: str
    replies: list[Reply] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def start(self) -> None:
        self.threads = [threading.Thread(target=self._client, args=(n,), daemon=True) for n in range(CLIENTS)]
        for thread in self.threads:
            thread.start()

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=HANG)

    def replies_since(self, since: float, what: str) -> list[Reply]:
        """Waits until every query has been answered twice by requests started after `since`
        (or a request failed, which the tests report); those replies."""
        deadline = time.monotonic() + HANG  # against a hung server only

        def enough() -> bool:
            asked = [r.question for r in self.replies if r.started >= since]
            return bool(self.errors) or all(asked.count(q) >= 2 for q in QUERIES)

        with self.changed:
            while not enough():
                if time.monotonic() > deadline:
                    pytest.fail(f"the server answered too few queries {what} in {HANG} s: {self.errors}")
                self.changed.wait(timeout=1)
            return [r for r in self.replies if r.started >= since]

    def _client(self, n: int) -> None:
        headers = {"Authorization": f"Bearer {READ_KEY}"}
        with httpx.Client(base_url=self.base, headers=headers, timeout=HANG) as client:
            i = n
            while not self.stop.is_set():
                question = QUERIES[i % len(QUERIES)]
                i += 1
                started = time.monotonic()
                try:
                    passages = self._ask(client, *question)
                except Exception as exc:  # noqa: BLE001 - any failure is a finding
                    with self.changed:
                        self.errors.append(f"{question}: {type(exc).__name__}: {exc}")
                        self.changed.notify_all()
                    continue
                with self.changed:
                    self.replies.append(Reply(question, started, time.monotonic(), passages))
                    self.changed.notify_all()

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
                      data={"metadata": NOTE_META}, headers={"X-API-Key": ADMIN_KEY}, timeout=HANG)


def _wait_for_generation(base: str, generation: str) -> None:
    """Until the server reports `generation` (its reader looks at the manifest about once a second)."""
    deadline = time.monotonic() + HANG  # against a hang only
    seen = ""
    while seen != generation:
        if time.monotonic() > deadline:
            pytest.fail(f"the server still serves generation {seen!r}, not the committed {generation!r}")
        seen = httpx.get(f"{base}/readyz", timeout=30).json().get("generation", "")
        if seen != generation:
            time.sleep(0.2)  # polling a condition, as a readiness check does; nothing is decided by time


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
    write_register(corpus, entries=128)  # model work for the CLI while queries run

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**regqa_env(settings), "REGQA_API_KEYS": f"{READ_KEY}:read,{ADMIN_KEY}:admin"}
    held = regqa_env(settings, pause=["after-first-upsert-batch", "before-manifest-commit"],
                     pause_dir=root / "pause")
    with running([str(REGQA), "serve", "--port", str(port)], f"{base}/readyz", root / "serve.log", env):
        hammer = Hammer(base)
        hammer.start()
        started = time.monotonic()
        with Watched(["index"], held) as cli:
            cli.wait_paused("after-first-upsert-batch")
            paused = time.monotonic()
            held_mid_run = hammer.replies_since(paused, "while the CLI held its first vectors")
            resumed = time.monotonic()
            cli.release("after-first-upsert-batch")
            cli.wait_paused("before-manifest-commit")  # the CLI holds the write lock for its whole run
            paused_again = time.monotonic()
            busy = _upload(base)
            stored_while_busy = sorted(p.name for p in (settings.index_dir / "uploads").rglob("*"))
            check_busy = run_cli("check", env=regqa_env(settings))
            resumed_again = time.monotonic()
            cli.release("before-manifest-commit")
            assert cli.finish() == 0, cli.output[-3000:]
            ended = time.monotonic()
        new = _chunks(settings)
        _wait_for_generation(base, IndexStore(settings.index_dir).read_manifest().generation)
        after_switch = hammer.replies_since(time.monotonic(), "after the switch to the new generation")
        hammer.finish()
        retry = _upload(base)
        documents = [d["id"] for d in httpx.get(f"{base}/v1/documents", headers={"X-API-Key": READ_KEY}).json()]
    check = check_index(settings)

    working = [(started, paused), (resumed, paused_again), (resumed_again, ended)]
    seconds = sum(end - start for start, end in working)
    counted = during(hammer.replies, working)
    load = {"clients": CLIENTS, "reindex_seconds": round(seconds, 2), "requests_during_reindex": len(counted),
            "requests_per_second": round(len(counted) / seconds, 2), "errors": len(hammer.errors)}
    report = tmp_path_factory.getbasetemp() / "reindex-load.json"
    report.write_text(json.dumps(load, indent=1))
    print(f"\nload held while re-indexing: {load}")
    yield Scene(old, new, hammer.replies, hammer.errors, held_mid_run, after_switch, busy, stored_while_busy,
                check_busy, retry, documents, check, report)


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
    generations = {"old": scene.old, "new": scene.new}
    seen = set()
    for reply in scene.replies:
        ids = {cid for cid, _ in reply.passages}
        served = [name for name, chunks in generations.items() if ids <= chunks.keys()]
        assert served, f"{reply.question} mixed generations or cited a deleted chunk: {sorted(ids)}"
        chunks = generations[served[0]]
        for cid, shown in reply.passages:
            assert shown in chunks[cid]  # the passage text (search) or quote (answer) of that chunk
        if len(served) == 1:
            seen.add(served[0])
    assert seen == {"old", "new"}  # the stream of queries spanned the switch
    # Held with new vectors stored but not committed, the server answered from the old generation
    # only; once it reported the new generation, from the new one only.
    assert all({cid for cid, _ in r.passages} <= scene.old.keys() for r in scene.held_mid_run)
    assert any(not {cid for cid, _ in r.passages} <= scene.new.keys() for r in scene.held_mid_run)
    assert all({cid for cid, _ in r.passages} <= scene.new.keys() for r in scene.after_switch)
    assert any(not {cid for cid, _ in r.passages} <= scene.old.keys() for r in scene.after_switch)
    assert json.loads(scene.load_report.read_text())["errors"] == 0
