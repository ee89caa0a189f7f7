"""Crash safety: a real `regqa index` subprocess is SIGKILLed at each stage of a run, and the
previous index must still answer, `regqa check` must call it usable, and the next run must
finish with a clean index. Also: `regqa check` finds real damage and `--repair` fixes it.

How the kill points are hit. Embedding lasts long enough to watch from outside: the run's own
progress output (rendered into a pipe with TTY_COMPATIBLE=1) says how many chunks are embedded.
Chunking a small document takes milliseconds, and the commit is a single rename microseconds
away from the generation write before it and the clean-up after it; no outside observer can
stop a process inside such windows. So those runs get a Python audit hook (sys.addaudithook,
in a sitecustomize.py that only these subprocesses load through PYTHONPATH) that freezes the
main thread at a named system call — the open of one document, or the rename of manifest.json
— and says so on stderr; the test then SIGKILLs the frozen process (or lets it go on by
creating a file). No RegQA code is replaced or told it is under test: the hook only decides
*when* the kill lands, like a debugger breakpoint.

Speed: the model embeds the small corpus (before and after the edits) once per module; the
runs under test take those vectors from the index's embedding cache, as a re-index of known
text does in production, so only the test that kills embedding runs the model in a subprocess.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

import numpy as np
import pytest

from indexer.check import CheckReport, check_index
from indexer.embedding_cache import EmbeddingCache
from indexer.embeddings import Embedder, embedding_identity
from indexer.pipeline import Indexer
from indexer.store import IndexStore, Manifest
from regqa.config import Settings

from .conftest import CORPUS, SMALL_DOCS

pytestmark = pytest.mark.slow

REGQA = Path(sys.executable).with_name("regqa")
CACHE_FILE = "embedding-cache.sqlite"  # where the pipeline keeps its embedding cache
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
NEW_SECTION = "§ 730.99"
# Over 256 (the pipeline's upsert step), so a run can die with some vectors stored; the kill comes
# after 288 are embedded, four model batches before the second upsert.
REGISTER_ENTRIES = 416
UPSERT_STEP = 256
DRIFT = {"changed_on_disk", "missing_on_disk"}  # what change_corpus() does to the indexed corpus

# Loaded only by the subprocesses started with pause=...; see the module docstring.
PAUSE_HOOK = '''
import os, sys, threading, time

_SPEC = os.environ.get("CRASH_TEST_PAUSE", "")
_RELEASE = os.environ.get("CRASH_TEST_RELEASE", "")


def _install(kind, target):
    state = {"busy": False, "renamed_in": None}

    def freeze():
        sys.stderr.write("\\nPAUSED " + kind + "\\n")
        sys.stderr.flush()
        while not (_RELEASE and os.path.exists(_RELEASE)):  # until released, or killed
            time.sleep(0.05)

    def hook(event, args):
        if state["busy"]:
            return
        state["busy"] = True
        try:
            if kind == "open" and event == "open" and isinstance(args[0], (str, os.PathLike)) \\
                    and os.fspath(args[0]) == target:
                freeze()  # the file is about to be opened
            elif event == "os.rename" and os.fspath(args[1]) == target:
                if kind == "before-rename":
                    freeze()  # the rename has not happened yet
                state["renamed_in"] = threading.get_ident()
            elif kind == "after-rename" and state["renamed_in"] == threading.get_ident():
                freeze()  # the first audited call after the rename returned
        finally:
            state["busy"] = False

    sys.addaudithook(hook)


if _SPEC:
    _kind, _, _target = _SPEC.partition(":")
    _install(_kind, _target)
'''


# -- corpus edits ------------------------------------------------------------------------------

def change_corpus(corpus: Path) -> None:
    """One edited paragraph and one new section, one deleted and one added document."""
    part_730 = corpus / "us-ear" / "15-cfr-part-730.md"
    text = part_730.read_text(encoding="utf-8")
    assert "The core of the export control provisions" in text
    text = text.replace("The core of the export control provisions", "The central export control provisions")
    text += (f"\n## {NEW_SECTION} Crash-test section.\n\nThermal imaging cameras for border surveillance "
             "are described here only to test crash safety.\n")
    part_730.write_text(text, encoding="utf-8")
    (corpus / "eu-intl" / "uk-export-control-order-2008.md").unlink()
    name = "eu-2024-2659-cyber-surveillance-guidelines.md"
    shutil.copy2(CORPUS / "eu-intl" / name, corpus / "eu-intl" / name)


def write_register(corpus: Path, entries: int = REGISTER_ENTRIES) -> None:
    """A real Markdown document of many one-line entries: many chunks, each cheap to embed."""
    lines = ["---", "id: synthetic-register", "title: Register of surveillance camera models",
             "cite_as: Synthetic Register", "doc_type: guidance", "jurisdiction: UK", "completeness: full",
             "---", "# Register of surveillance camera models", ""]
    for i in range(1, entries + 1):
        lines += [f"## Entry {i}", "", f"Camera model SR-{i} is a surveillance item listed for licensing.", ""]
    (corpus / "eu-intl" / "synthetic-register.md").write_text("\n".join(lines), encoding="utf-8")


# -- subprocesses ------------------------------------------------------------------------------

def regqa_env(settings: Settings, *, progress: bool = False, pause: str | None = None,
              hook_dir: Path | None = None, release: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "REGQA_DATA_DIR": str(settings.index_dir),
           "REGQA_CORPUS_DIR": str(settings.default_corpus), "COLUMNS": "200"}
    if progress:
        env["TTY_COMPATIBLE"] = "1"  # rich renders the progress bar into the pipe
    if pause:
        assert hook_dir is not None
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hook_dir), env.get("PYTHONPATH")]))
        env["CRASH_TEST_PAUSE"] = pause
        env["CRASH_TEST_RELEASE"] = str(release or "")
    return env


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(REGQA), *args], capture_output=True, text=True, env=env, timeout=600, check=False)


def cli_json(*args: str, env: dict[str, str], code: int = 0) -> dict:
    result = cli(*args, "--json", env=env)
    assert result.returncode == code, result.stdout + result.stderr
    return json.loads(result.stdout)


class Watched:
    """A running `regqa` subprocess whose output is read line by line as it arrives."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.process = subprocess.Popen([str(REGQA), *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, env=env, text=True)
        self.lines: list[str] = []
        self._done = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(ANSI.sub("", line))
                self._changed.notify_all()
        with self._changed:
            self._done = True
            self._changed.notify_all()

    def wait_for(self, found: Callable[[str], bool], what: str, limit: float = 600) -> str:
        """The first output line for which `found` holds; fails if the process ends first."""
        deadline = time.monotonic() + limit  # only against a hang, never a speed requirement
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    if found(line):
                        return line
                seen = len(self.lines)
                if self._done or time.monotonic() > deadline:
                    self.process.kill()
                    pytest.fail(f"regqa never reached {what}: {''.join(self.lines)[-3000:]}")
                self._changed.wait(timeout=1)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        """Never leave a held or running subprocess behind, whatever the test did."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=60)

    def sigkill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        assert self.process.wait(timeout=60) == -signal.SIGKILL
        self._reader.join(timeout=30)


def embedded_at_least(count: int) -> Callable[[str], bool]:
    def found(line: str) -> bool:
        match = re.search(r"Embedding chunks\D+(\d+)/(\d+)", line)
        return bool(match) and int(match.group(1)) >= count

    return found


# -- fixtures ----------------------------------------------------------------------------------

def install_pause_hook(directory: Path) -> Path:
    """A folder for PYTHONPATH whose sitecustomize.py is PAUSE_HOOK."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sitecustomize.py").write_text(PAUSE_HOOK, encoding="utf-8")
    return directory


@pytest.fixture(scope="module")
def hook_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return install_pause_hook(tmp_path_factory.mktemp("pause-hook"))


@pytest.fixture(scope="module")
def known_vectors(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> dict[str, np.ndarray]:
    """The model's vectors of every chunk text of the small corpus, before and after change_corpus()."""
    root = tmp_path_factory.mktemp("vectors")
    corpus = root / "corpus"
    for rel in SMALL_DOCS:
        (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(CORPUS / rel, corpus / rel)
    settings = Settings(data_dir=root / "data", corpus_dir=corpus)
    known: dict[str, np.ndarray] = {}
    for edit in (None, change_corpus):
        if edit:
            edit(corpus)
        Indexer(settings, embedder_factory=lambda: embedder).run()
        store = IndexStore(settings.index_dir)
        texts = [c.embed_text for c in store.read_chunks(store.read_manifest().generation)]
        known.update(EmbeddingCache(store.root / CACHE_FILE, embedding_identity(settings)).get_many(texts))
    return known


def seed_cache(settings: Settings, vectors: dict[str, np.ndarray]) -> None:
    """Put known vectors into the index's embedding cache (a commit keeps only its own texts)."""
    cache = EmbeddingCache(settings.index_dir / CACHE_FILE, embedding_identity(settings))
    cache.put_many(list(vectors), np.vstack(list(vectors.values())))
    cache.close()


@pytest.fixture
def baseline(settings: Settings, small_corpus: Path, known_vectors: dict[str, np.ndarray],
             embedder: Embedder) -> Manifest:
    """The small corpus indexed (vectors from the cache); its committed manifest."""
    seed_cache(settings, known_vectors)
    summary = Indexer(settings, embedder_factory=lambda: embedder).run()
    assert summary.documents == 5 and summary.chunks_embedded == 0
    seed_cache(settings, known_vectors)  # so that the runs under test embed only new text
    return IndexStore(settings.index_dir).read_manifest()


# -- what must hold after a kill -------------------------------------------------------------

def assert_serves(settings: Settings, embedder: Embedder, generation: str, *, has_new_section: bool) -> None:
    """The committed generation answers, and every passage it returns is one of its own chunks."""
    from assistant.service import Assistant

    store = IndexStore(settings.index_dir)
    on_disk = {c.chunk_id for c in store.read_chunks(generation)}
    assistant = Assistant(settings, embedder=embedder, chat_model=None)
    snapshot = assistant.reader.snapshot()  # loads every vector of the generation, or raises
    assert snapshot.manifest.generation == generation
    assert snapshot.vectors is not None and snapshot.vectors.shape[0] == len(on_disk) == len(snapshot.chunks)
    answer = assistant.ask("What are cyber-surveillance items?")
    returned = {c.chunk_id for c in answer.citations} | {r.chunk_id for r in answer.retrieved}
    assert answer.citations and returned <= on_disk
    assert any(c.section.startswith("Article 2") for c in answer.citations)
    probe = assistant.ask(f"What does {NEW_SECTION} say about thermal imaging cameras?")
    sections = {c.section for c in probe.citations}
    assert {r.chunk_id for r in probe.retrieved} <= on_disk
    assert (NEW_SECTION in sections) is has_new_section, (probe.answer, sections)


def assert_usable(report: CheckReport, kinds: set[str]) -> None:
    assert report.usable, report.problems
    assert report.kinds() == kinds, report.problems
    assert all(p.repairable for p in report.problems if p.severity == "leftover")


def orphans(report: CheckReport) -> list[str]:
    return [item for p in report.problems if p.kind == "orphan_vectors" for item in p.items]


# -- the kills ---------------------------------------------------------------------------------

def test_killed_while_chunking(settings: Settings, baseline: Manifest, hook_dir: Path, embedder: Embedder) -> None:
    change_corpus(settings.default_corpus)
    # Sorted order reads eu-intl/ first: the new guidelines are chunked when part 730 is opened.
    target = settings.default_corpus / "us-ear" / "15-cfr-part-730.md"
    with Watched(["index"], regqa_env(settings, pause=f"open:{target}", hook_dir=hook_dir)) as run:
        run.wait_for(lambda line: line.startswith("PAUSED"), "the open of part 730")
        run.sigkill()

    report = check_index(settings)
    assert report.generation == baseline.generation
    assert_usable(report, DRIFT)  # nothing was embedded or written before the kill
    assert_serves(settings, embedder, baseline.generation, has_new_section=False)
    _next_run_completes(settings)


def test_killed_while_embedding(settings: Settings, baseline: Manifest, embedder: Embedder) -> None:
    change_corpus(settings.default_corpus)
    write_register(settings.default_corpus)
    with Watched(["index"], regqa_env(settings, progress=True)) as run:
        # Past the first upsert of 256 model-embedded chunks, with four batches still to go.
        run.wait_for(embedded_at_least(UPSERT_STEP + 32), "the second upsert batch")
        run.sigkill()

    report = check_index(settings)
    assert report.generation == baseline.generation
    assert_usable(report, DRIFT | {"orphan_vectors"})
    stored = [cid for cid in orphans(report) if cid.startswith("synthetic-register:")]
    assert UPSERT_STEP <= len(stored) < REGISTER_ENTRIES  # killed mid-embedding, some vectors kept
    assert_serves(settings, embedder, baseline.generation, has_new_section=False)
    summary = _next_run_completes(settings)
    assert summary["chunks_embedded"] == REGISTER_ENTRIES - len(stored)  # the rest, not all again


def test_killed_after_the_generation_is_written_before_the_commit(
        settings: Settings, baseline: Manifest, hook_dir: Path, embedder: Embedder) -> None:
    change_corpus(settings.default_corpus)
    manifest_path = settings.index_dir / "manifest.json"
    with Watched(["index"], regqa_env(settings, pause=f"before-rename:{manifest_path}", hook_dir=hook_dir)) as run:
        run.wait_for(lambda line: line.startswith("PAUSED"), "the rename of manifest.json")
        run.sigkill()

    report = check_index(settings)
    assert report.generation == baseline.generation
    assert_usable(report, DRIFT | {"orphan_vectors", "stale_generation", "temp_file"})
    # The kill landed where intended: the new generation and the commit record were complete.
    store = IndexStore(settings.index_dir)
    pending = Manifest.model_validate_json((settings.index_dir / "manifest.json.tmp").read_text())
    assert any(c.section == NEW_SECTION for c in store.read_chunks(pending.generation))
    assert_serves(settings, embedder, baseline.generation, has_new_section=False)
    summary = _next_run_completes(settings)
    assert summary["chunks_embedded"] == 0  # the killed run's vectors are reused


def test_killed_after_the_commit_before_the_clean_up(
        settings: Settings, baseline: Manifest, hook_dir: Path, embedder: Embedder) -> None:
    change_corpus(settings.default_corpus)
    manifest_path = settings.index_dir / "manifest.json"
    with Watched(["index"], regqa_env(settings, pause=f"after-rename:{manifest_path}", hook_dir=hook_dir)) as run:
        run.wait_for(lambda line: line.startswith("PAUSED"), "the first call after the commit")
        run.sigkill()

    report = check_index(settings)
    assert report.generation != baseline.generation  # committed: the new index is the index
    assert_usable(report, {"orphan_vectors", "stale_generation"})  # the old generation and vectors
    assert "uk-export-control-order-2008" not in IndexStore(settings.index_dir).read_manifest().documents
    assert_serves(settings, embedder, report.generation, has_new_section=True)
    _next_run_completes(settings)


def _next_run_completes(settings: Settings) -> dict:
    summary = cli_json("index", env=regqa_env(settings))
    manifest = IndexStore(settings.index_dir).read_manifest()
    assert "eu-2024-2659-cyber-surveillance-guidelines" in manifest.documents
    assert "uk-export-control-order-2008" not in manifest.documents
    report = check_index(settings)
    assert report.healthy and report.vectors == report.chunks, report.problems
    return summary


# -- real damage -------------------------------------------------------------------------------

def test_check_finds_real_damage_and_repair_fixes_what_it_says(settings: Settings, baseline: Manifest,
                                                               known_vectors: dict[str, np.ndarray]) -> None:
    from indexer.dense import DenseIndex

    env = regqa_env(settings)
    store = IndexStore(settings.index_dir)
    chunks = store.read_chunks(baseline.generation)
    victim = next(c for c in chunks if c.doc_id == "eu-2021-821-dual-use-regulation")
    dense = DenseIndex.fresh(None, store.chroma_dir)
    dense.delete(baseline.collection, [victim.chunk_id])
    stray = np.asarray([next(iter(known_vectors.values()))], dtype=np.float32)
    dense.upsert(baseline.collection, [victim.model_copy(update={"chunk_id": "stray-chunk"})], stray)
    (store.root / "manifest.json.tmp").write_text("{")
    (store.generations / "20000101T000000000000Z-1").mkdir()
    (store.root / "uploads" / "note").mkdir(parents=True)
    (store.root / "uploads" / "note" / "note.md").write_text("# Note\n\nNever indexed.\n")
    part_736 = settings.default_corpus / "us-ear" / "15-cfr-part-736.md"
    part_736.write_text(part_736.read_text(encoding="utf-8") + "\nAn edit after indexing.\n", encoding="utf-8")

    report = check_index(settings)
    problems = {p.kind: p for p in report.problems}
    assert set(problems) == {"vectors_missing", "orphan_vectors", "temp_file", "stale_generation",
                             "upload_not_indexed", "changed_on_disk"}
    assert problems["vectors_missing"].items == (victim.chunk_id,) and not report.usable
    assert problems["orphan_vectors"].items == ("stray-chunk",)
    assert problems["changed_on_disk"].severity == "drift" and not problems["changed_on_disk"].repairable
    assert "15-cfr-part-736" in problems["changed_on_disk"].message
    assert all(p.repairable for p in report.problems if p.kind != "changed_on_disk")

    repaired = cli_json("check", "--repair", env=env, code=1)  # the drift is for `regqa index`
    assert len(repaired["repaired"]) == 5 and "re-embedded 1 missing vectors" in " ".join(repaired["repaired"])
    assert [p["kind"] for p in repaired["problems"]] == ["changed_on_disk"] and repaired["usable"]
    assert repaired["vectors"] == repaired["chunks"] == len(chunks)
    assert not (store.root / "manifest.json.tmp").exists() and not (store.root / "uploads" / "note").exists()
    assert [p.name for p in store.generations.iterdir()] == [baseline.generation]
    restored = DenseIndex.fresh(None, store.chroma_dir).collection(baseline.collection).get(
        ids=[victim.chunk_id], include=["embeddings"])["embeddings"][0]
    assert np.allclose(restored, known_vectors[victim.embed_text], atol=1e-6)  # the very vector lost

    assert cli_json("index", env=env)["updated"] == ["15-cfr-part-736"]
    assert check_index(settings).healthy

    # A lost chunks file cannot be repaired in place; check says to rebuild, and that works.
    generation = store.read_manifest().generation
    (store.generations / generation / "chunks.jsonl").unlink()
    broken = cli_json("check", "--repair", env=env, code=1)
    assert [p["kind"] for p in broken["problems"]] == ["chunks_unreadable"] and not broken["repaired"]
    assert not broken["problems"][0]["repairable"] and "--rebuild" in broken["problems"][0]["message"]
    rebuilt = cli_json("index", "--rebuild", env=env)
    assert rebuilt["documents"] == 5 and rebuilt["chunks_embedded"] == 0  # from the embedding cache
    assert check_index(settings).healthy

    # So is an unreadable manifest: nothing then tells committed from leftover, so nothing is touched.
    (store.root / "manifest.json").write_text('{"generation": ', encoding="utf-8")
    broken_manifest = check_index(settings)
    assert broken_manifest.kinds() == {"manifest_unreadable"} and not broken_manifest.usable
    assert "--rebuild" in broken_manifest.problems[0].message
    assert cli_json("index", "--rebuild", env=env)["documents"] == 5
    assert check_index(settings).healthy
