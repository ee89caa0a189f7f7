"""Crash safety: a real `regqa index` subprocess is SIGKILLed at each stage of a run, and the
previous index must still answer, `regqa check` must call it usable, and the next run must
finish with a clean index. Also: `regqa check` finds real damage and `--repair` fixes it.

How the kill points are hit: the indexer has named pause points (indexer/pause.py) at the stage
boundaries that matter — before reading a given document, after the first batch of vectors is
stored, before the manifest commit, between writing the commit record and renaming it into place,
after the commit before the clean-up. Each run under test is told (REGQA_PAUSE_AT) to hold at one;
the test waits until the run says it is holding there and SIGKILLs it. No kill depends on timing
or on a progress count, so it lands in the same place on every machine, loaded or not.

Speed: the model embeds the small corpus (before and after the edits) once per module; the
runs under test take those vectors from the index's embedding cache, as a re-index of known
text does in production, so only the test that kills embedding runs the model in a subprocess.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from indexer.check import CheckReport, check_index
from indexer.embedding_cache import EmbeddingCache
from indexer.embeddings import Embedder, embedding_identity
from indexer.pipeline import Indexer
from indexer.store import IndexStore, Manifest
from regqa.config import Settings

from .conftest import CORPUS, SMALL_DOCS
from .processes import NEW_SECTION, Watched, change_corpus, cli_json, regqa_env, write_register

pytestmark = pytest.mark.slow

CACHE_FILE = "embedding-cache.sqlite"  # where the pipeline keeps its embedding cache
# Over 256 (the pipeline's upsert step), so a run can die with some vectors stored and some not.
REGISTER_ENTRIES = 416
UPSERT_STEP = 256
DRIFT = {"changed_on_disk", "missing_on_disk"}  # what change_corpus() does to the indexed corpus


def killed_at(settings: Settings, point: str, pause_dir: Path) -> str:
    """Run `regqa index`, hold it at `point`, SIGKILL it there; its output."""
    with Watched(["index"], regqa_env(settings, pause=[point], pause_dir=pause_dir)) as run:
        run.wait_paused(point.partition(":")[0])
        run.sigkill()
        return run.output


# -- fixtures ----------------------------------------------------------------------------------

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

def test_killed_while_chunking(settings: Settings, baseline: Manifest, tmp_path: Path, embedder: Embedder) -> None:
    change_corpus(settings.default_corpus)
    # Sorted order reads eu-intl/ first: the new guidelines are chunked when part 730 is reached.
    target = settings.default_corpus / "us-ear" / "15-cfr-part-730.md"
    killed_at(settings, f"before-reading:{target}", tmp_path / "pause")

    report = check_index(settings)
    assert report.generation == baseline.generation
    assert_usable(report, DRIFT)  # nothing was embedded or written before the kill
    assert_serves(settings, embedder, baseline.generation, has_new_section=False)
    _next_run_completes(settings)


def test_killed_while_embedding(settings: Settings, baseline: Manifest, tmp_path: Path, embedder: Embedder) -> None:
    change_corpus(settings.default_corpus)
    write_register(settings.default_corpus, REGISTER_ENTRIES)
    # Held after the first model batch is stored in Chroma, with the rest of the register to embed.
    killed_at(settings, "after-first-upsert-batch", tmp_path / "pause")

    report = check_index(settings)
    assert report.generation == baseline.generation
    assert_usable(report, DRIFT | {"orphan_vectors"})
    stored = [cid for cid in orphans(report) if cid.startswith("synthetic-register:")]
    assert len(stored) == UPSERT_STEP  # killed mid-embedding: the first batch kept, nothing after it
    assert_serves(settings, embedder, baseline.generation, has_new_section=False)
    summary = _next_run_completes(settings)
    assert summary["chunks_embedded"] == REGISTER_ENTRIES - UPSERT_STEP  # the rest, not all again


@pytest.mark.parametrize(("point", "debris"), [
    ("before-manifest-commit", set()),  # the new generation written, no commit record yet
    ("before-manifest-rename", {"temp_file"}),  # the commit record written, not renamed into place
])
def test_killed_after_the_generation_is_written_before_the_commit(
        settings: Settings, baseline: Manifest, tmp_path: Path, embedder: Embedder, point: str,
        debris: set[str]) -> None:
    change_corpus(settings.default_corpus)
    killed_at(settings, point, tmp_path / "pause")

    report = check_index(settings)
    assert report.generation == baseline.generation
    assert_usable(report, DRIFT | {"orphan_vectors", "stale_generation"} | debris)
    # The kill landed where intended: the new generation was complete (and so was the commit record).
    store = IndexStore(settings.index_dir)
    pending = [p.name for p in store.generations.iterdir() if p.name != baseline.generation]
    assert len(pending) == 1 and any(c.section == NEW_SECTION for c in store.read_chunks(pending[0]))
    record = settings.index_dir / "manifest.json.tmp"
    assert record.exists() is bool(debris)
    if debris:
        assert Manifest.model_validate_json(record.read_text()).generation == pending[0]
    assert_serves(settings, embedder, baseline.generation, has_new_section=False)
    summary = _next_run_completes(settings)
    assert summary["chunks_embedded"] == 0  # the killed run's vectors are reused


def test_killed_after_the_commit_before_the_clean_up(
        settings: Settings, baseline: Manifest, tmp_path: Path, embedder: Embedder) -> None:
    change_corpus(settings.default_corpus)
    killed_at(settings, "after-manifest-commit", tmp_path / "pause")

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
