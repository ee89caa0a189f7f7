"""The indexing pipeline on real documents, the real model and real embedded Chroma."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from indexer.dense import DenseIndex
from indexer.pipeline import Indexer, IndexBusy
from indexer.store import IndexStore
from regqa.config import Settings

from .conftest import CORPUS, SHARED, CountingEmbedder

pytestmark = pytest.mark.slow


def _indexer(settings: Settings, embedder: CountingEmbedder) -> Indexer:
    return Indexer(settings, embedder_factory=lambda: embedder)


def _committed(settings: Settings):  # noqa: ANN202
    store = IndexStore(settings.index_dir)
    manifest = store.read_manifest()
    return store, manifest, store.read_chunks(manifest.generation)


def test_full_then_incremental_runs(settings: Settings, small_corpus: Path, counting_embedder) -> None:  # noqa: ANN001
    summary = _indexer(settings, counting_embedder).run()
    store, manifest, chunks = _committed(settings)
    assert set(manifest.documents) == {
        "eu-2021-821-dual-use-regulation", "echri-code-of-conduct-2023", "uk-export-control-order-2008",
        "15-cfr-part-730", "15-cfr-part-736",
    }
    assert summary.chunks == len(chunks)
    # Each distinct passage is embedded once (Annex III of 2021/821 repeats one form row verbatim).
    assert summary.chunks_embedded == len(counting_embedder.texts) == len({c.embed_text for c in chunks})
    dense = DenseIndex(None, store.chroma_dir)
    assert dense.count(manifest.collection) == len(chunks)
    assert {c.doc_id for c in chunks} == set(manifest.documents)

    # Both indexes find the Article 2(20) definition, each in its own way.
    sparse = store.read_sparse(manifest.generation)
    top_ids = [cid for cid, _ in sparse.search("covert surveillance of natural persons", 3)]
    by_id = {c.chunk_id: c for c in chunks}
    assert by_id[top_ids[0]].section == "Article 2(20)"
    vector = np.asarray(counting_embedder.embed_query("what are cyber-surveillance items?"))
    hits = dense.collection(manifest.collection).query(query_embeddings=[vector], n_results=3)
    assert any(by_id[i].section == "Article 2(20)" for i in hits["ids"][0])

    # Nothing changed: nothing is embedded, nothing is rewritten.
    counting_embedder.texts.clear()
    again = _indexer(settings, counting_embedder).run()
    assert (again.committed, again.chunks_embedded, counting_embedder.texts) == (False, 0, [])
    assert len(again.unchanged) == 5
    assert IndexStore(settings.index_dir).read_manifest().generation == manifest.generation

    # One document changes, one is deleted: only the new passage is embedded.
    part_730 = small_corpus / "us-ear" / "15-cfr-part-730.md"
    part_730.write_text(part_730.read_text(encoding="utf-8") + "\n## § 730.99 Test section.\n\nA new test paragraph.\n",
                        encoding="utf-8")
    (small_corpus / "eu-intl" / "echri-code-of-conduct-2023.md").unlink()
    changed = _indexer(settings, counting_embedder).run()
    assert changed.updated == ["15-cfr-part-730"] and changed.removed == ["echri-code-of-conduct-2023"]
    assert changed.chunks_embedded == len(counting_embedder.texts) == 1
    store, manifest, chunks = _committed(settings)
    assert "echri-code-of-conduct-2023" not in manifest.documents
    assert any(c.section == "§ 730.99" for c in chunks)
    # The vectors of the removed document are gone too, and dense and sparse agree.
    assert DenseIndex(None, store.chroma_dir).all_ids(manifest.collection) == {c.chunk_id for c in chunks}
    assert len(list((settings.index_dir / "generations").iterdir())) == 1


def test_bad_files_are_skipped_and_the_index_survives(settings: Settings, small_corpus: Path,
                                                       counting_embedder) -> None:  # noqa: ANN001
    _indexer(settings, counting_embedder).run()
    _, before, _ = _committed(settings)
    (small_corpus / "broken.pdf").write_bytes(b"%PDF-1.7\n1 0 obj <<>> garbage")
    (small_corpus / "empty.txt").write_bytes(b"")
    (small_corpus / "notes.docx").write_bytes(b"PK\x03\x04")
    (small_corpus / "latin.txt").write_bytes("Ausfuhrgenehmigung für Güter".encode("latin-1"))
    # A bad edit to an indexed document keeps its previous version.
    reg = small_corpus / "eu-intl" / "eu-2021-821-dual-use-regulation.md"
    reg.write_bytes(b"---\nid: [broken\n---\n")
    summary = _indexer(settings, counting_embedder).run()
    reasons = {Path(s.path).name: s.reason for s in summary.skipped}
    assert set(reasons) == {"broken.pdf", "empty.txt", "notes.docx", "latin.txt", reg.name}
    assert "damaged" in reasons["broken.pdf"] and "empty" in reasons["empty.txt"]
    assert "unsupported" in reasons["notes.docx"] and "UTF-8" in reasons["latin.txt"]
    assert "previously indexed version is kept" in reasons[reg.name]
    _, after, _ = _committed(settings)
    assert set(after.documents) == set(before.documents)


def test_interrupted_run_leaves_the_previous_index_usable(settings: Settings, small_corpus: Path,
                                                           counting_embedder) -> None:  # noqa: ANN001
    _indexer(settings, counting_embedder).run()
    store, before, chunks_before = _committed(settings)
    shutil.copy2(CORPUS / "eu-intl" / "uk-parliament-hikvision-surveillance-answers.md", small_corpus / "eu-intl")

    def interrupt(stage: str, done: int, total: int) -> None:
        if stage == "write":
            raise KeyboardInterrupt  # Ctrl-C after the vectors are stored, before the commit

    with pytest.raises(KeyboardInterrupt):
        _indexer(settings, counting_embedder).run(progress=interrupt)
    store, manifest, chunks = _committed(settings)
    assert manifest.generation == before.generation and chunks == chunks_before
    sparse = store.read_sparse(manifest.generation)
    assert sparse.search("authorisation export", 1)
    # The next run completes and reuses the vectors that the interrupted run stored.
    counting_embedder.texts.clear()
    summary = _indexer(settings, counting_embedder).run()
    assert summary.added == ["uk-parliament-hikvision-surveillance-answers"]
    assert summary.chunks_embedded == 0


def test_rebuild_starts_over_in_a_new_collection(settings: Settings, small_corpus: Path,
                                                  counting_embedder) -> None:  # noqa: ANN001
    _indexer(settings, counting_embedder).run()
    _, before, chunks = _committed(settings)
    counting_embedder.texts.clear()
    summary = _indexer(settings, counting_embedder).run(rebuild=True)
    store, after, _ = _committed(settings)
    # A rebuild re-stores every vector, but from the embedding cache: the model embeds nothing.
    assert (summary.chunks_from_cache, summary.chunks_embedded, counting_embedder.texts) == (len(chunks), 0, [])
    assert after.collection != before.collection
    dense = DenseIndex(None, store.chroma_dir)
    assert dense.collection_names() == [after.collection]
    assert dense.count(after.collection) == len(chunks)


def test_the_same_text_is_embedded_once_and_the_cache_forgets_removed_text(
        settings: Settings, small_corpus: Path, counting_embedder) -> None:  # noqa: ANN001
    from indexer.embedding_cache import EmbeddingCache

    source = small_corpus / "us-ear" / "15-cfr-part-736.md"
    # The same document under a second id: every chunk text recurs (same headings, same words).
    copy = source.read_text(encoding="utf-8").replace("id: 15-cfr-part-736", "id: 15-cfr-part-736-copy", 1)
    assert copy != source.read_text(encoding="utf-8")
    (small_corpus / "us-ear" / "copy-of-736.md").write_text(copy, encoding="utf-8")
    summary = _indexer(settings, counting_embedder).run()
    store, manifest, chunks = _committed(settings)
    texts = {c.embed_text for c in chunks}
    copies = [c for c in chunks if c.doc_id == "15-cfr-part-736-copy"]
    assert copies and summary.chunks == len(chunks)
    assert summary.chunks_embedded == len(counting_embedder.texts) == len(texts) < len(chunks)
    assert DenseIndex(None, store.chroma_dir).count(manifest.collection) == len(chunks)
    cache = EmbeddingCache(store.root / "embedding-cache.sqlite", manifest.embedding)
    assert len(cache) == len(texts)
    # Removing the original keeps its texts (the copy still uses them); editing drops old text.
    (small_corpus / "us-ear" / "copy-of-736.md").unlink()
    _indexer(settings, counting_embedder).run()
    _, _, remaining = _committed(settings)
    assert len(cache) == len({c.embed_text for c in remaining})


def test_a_second_writer_is_told_the_index_is_busy(settings: Settings, small_corpus: Path,
                                                   counting_embedder) -> None:  # noqa: ANN001
    from filelock import FileLock

    settings.index_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(IndexStore(settings.index_dir).lock_path)), pytest.raises(IndexBusy, match="another"):
        _indexer(settings, counting_embedder).run()


@pytest.mark.skipif(not (SHARED / "pdf").exists(), reason="../shared/corpus/pdf is not present")
def test_real_wassenaar_pdf_entries_come_back_with_pages(settings: Settings, counting_embedder) -> None:  # noqa: ANN001
    """All 243 pages go through pypdf and the chunker; the Category 5 Part 1 pages are embedded."""
    from pypdf import PdfReader, PdfWriter

    from indexer.chunker import Chunker
    from indexer.loaders import load_document
    from indexer.tokens import TokenCounter

    source = SHARED / "pdf" / "wassenaar-2025-dual-use-list.pdf"
    doc = load_document(source, max_bytes=settings.max_file_bytes, max_pdf_pages=settings.max_pdf_pages)
    chunks = Chunker(TokenCounter(settings.model_path)).chunk(doc)
    entry = [c for c in chunks if c.section == "5.A.1.j"]
    assert entry and entry[0].page == 88
    assert "Internet Protocol (IP) network communications surveillance" in entry[0].text
    assert [c.page for c in chunks if c.section == "4.A.5"] == [80]
    assert not any("WA-LIST (25) 1 Corr." in c.text for c in chunks)  # running headers dropped

    # Index pages 84-90 (Category 5 Part 1), written by pypdf itself, through the pipeline.
    writer = PdfWriter()
    reader = PdfReader(source)
    for number in range(83, 90):
        writer.add_page(reader.pages[number])
    folder = settings.default_corpus
    folder.mkdir(parents=True)
    with (folder / "wa-cat5p1.pdf").open("wb") as handle:
        writer.write(handle)
    (folder / "wa-cat5p1.meta.yaml").write_text(
        "cite_as: Wassenaar Arrangement Dual-Use List (2025)\njurisdiction: Wassenaar\ndoc_type: control_list\n",
        encoding="utf-8",
    )
    _indexer(settings, counting_embedder).run()
    _, manifest, indexed = _committed(settings)
    assert manifest.documents["wa-cat5p1"].meta.jurisdiction == "Wassenaar"
    j = [c for c in indexed if c.section == "5.A.1.j"]
    assert j and j[0].page == 5 and j[0].cite_as == "Wassenaar Arrangement Dual-Use List (2025)"


@pytest.fixture
def no_chroma_while_warming(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Fails a read of Chroma's vectors made while the committed index is still warming (the
    indexer's own reads, of ids it has stored, are allowed); yields the sizes of the reads made
    once it is whole."""
    from indexer.dense import SingleCollection

    real = SingleCollection.get_vectors
    reads: list[int] = []

    def guarded(self: SingleCollection, ids: object) -> dict:
        ids = list(ids)  # type: ignore[call-overload]
        manifest_path = IndexStore(settings.index_dir).manifest_path
        if manifest_path.exists() and not IndexStore(settings.index_dir).read_manifest().dense_ready:
            raise AssertionError("Chroma's vectors were read while the index was warming")
        reads.append(len(ids))
        return real(self, ids)

    monkeypatch.setattr(SingleCollection, "get_vectors", guarded)
    return reads


def test_a_first_run_answers_while_its_vectors_are_still_being_stored(
        settings: Settings, small_corpus: Path, counting_embedder, no_chroma_while_warming: list[int]) -> None:  # noqa: ANN001
    """Warm start: chunks and BM25 are committed before embedding; a reader searches them at
    once and finds dense vectors as they are stored, never a chunk without one."""
    from assistant.retrieval import HybridRetriever, QueryEmbedder
    from indexer.progress import IndexProgress
    from indexer.reader import Filters, IndexReader

    reader = IndexReader(settings, recheck_seconds=0)
    retriever = HybridRetriever(reader, QueryEmbedder(counting_embedder))
    query = np.asarray(counting_embedder.encode(["authorisation for the export of dual-use items"])[0], np.float32)
    seen: list[tuple[bool, float, int]] = []

    def watch(stage: str, done: int, total: int) -> None:
        if stage != "embed" or not done:
            return
        manifest = IndexStore(settings.index_dir).read_manifest()
        snapshot = reader.snapshot()
        assert snapshot.sparse.search("authorisation export", 3)  # keywords answer from the start
        hits = reader.dense_search(snapshot, query, 20, Filters())
        present = snapshot.present if snapshot.present is not None else np.ones(len(snapshot.chunks), bool)
        assert all(present[snapshot.positions[cid]] for cid, _ in hits)
        assert len(hits) == min(20, int(present.sum()))
        # Neither the reader nor the answer path reads a vector from Chroma while the index
        # warms (embedded Chroma fails when another process writes it; `no_chroma_while_warming`):
        # only what the snapshot holds, and no score for the rest.
        found = retriever.search("Article 3 authorisation for the export of dual-use items", Filters(), 10)
        assert found.hits and all(h.dense is None or present[snapshot.positions[h.chunk.chunk_id]]
                                  for h in found.hits)
        seen.append((manifest.dense_ready, snapshot.dense_coverage, len(hits)))

    summary = Indexer(settings, embedder_factory=lambda: counting_embedder).run(progress=watch)
    assert summary.chunks_embedded > 256, "the small corpus must span two upsert batches for this test"
    assert seen[0] == (False, 0.0, 0)  # committed, no vector stored yet
    coverages = [coverage for _, coverage, _ in seen]
    assert coverages == sorted(coverages) and any(0 < c < 1 for c in coverages)
    assert not any(ready for ready, _, _ in seen)
    store, manifest, chunks = _committed(settings)
    assert manifest.dense_ready
    snapshot = reader.snapshot()
    assert snapshot.dense_coverage == 1.0 and snapshot.present is None
    assert len(reader.dense_search(snapshot, query, 20, Filters())) == 20
    progress = IndexProgress.read(settings.index_dir)
    assert progress is not None and progress.stage == "done" and progress.vectors == len(chunks)


def test_a_reader_takes_the_vectors_from_the_embedding_cache_and_chroma_only_for_what_it_lacks(
        settings: Settings, small_corpus: Path, counting_embedder, no_chroma_while_warming: list[int]) -> None:  # noqa: ANN001
    """The in-memory vectors come from the embedding cache (SQLite, safe to read while another
    process writes), not from embedded Chroma (which is not: a server reading a warming collection
    saw "Nothing found on disk" and once segfaulted). An index whose cache lacks vectors (built
    before the cache held every one, or with the cache deleted) reads them from Chroma once whole."""
    from indexer.reader import IndexReader

    Indexer(settings, embedder_factory=lambda: counting_embedder).run()
    _, manifest, chunks = _committed(settings)
    reads_by_indexer = list(no_chroma_while_warming)
    snapshot = IndexReader(settings).snapshot()
    assert snapshot.dense_coverage == 1.0 and snapshot.store is None
    assert no_chroma_while_warming == reads_by_indexer  # the reader read nothing from Chroma

    store = _chroma_vectors(settings, manifest)
    for chunk in chunks[:50]:  # the cache's vector is the one Chroma holds
        # (Chroma normalises for cosine space: equal up to float32 rounding)
        assert np.allclose(snapshot.vectors[snapshot.positions[chunk.chunk_id]], store[chunk.chunk_id], atol=1e-6)

    IndexStore(settings.index_dir).embedding_cache_path.unlink()
    again = IndexReader(settings).snapshot()
    assert again.dense_coverage == 1.0 and no_chroma_while_warming[-1] == len(chunks)
    assert np.allclose(again.vectors, snapshot.vectors, atol=1e-6)


def _chroma_vectors(settings: Settings, manifest) -> dict:  # noqa: ANN001
    dense = DenseIndex(settings.chroma_server, IndexStore(settings.index_dir).chroma_dir)
    ids = [c.chunk_id for c in IndexStore(settings.index_dir).read_chunks(manifest.generation)]
    return dense.store(manifest.collection, manifest.partitioned).get_vectors(ids)


def test_a_stopped_first_run_serves_what_it_has_and_the_next_run_completes_it(
        settings: Settings, small_corpus: Path, counting_embedder) -> None:  # noqa: ANN001
    from indexer.check import check_index
    from indexer.progress import IndexProgress
    from indexer.reader import IndexReader

    def stop_after_one_batch(stage: str, done: int, total: int) -> None:
        if stage == "embed" and done > 256:
            raise KeyboardInterrupt  # Ctrl-C with the first upsert batch stored

    with pytest.raises(KeyboardInterrupt):
        Indexer(settings, embedder_factory=lambda: counting_embedder).run(progress=stop_after_one_batch)
    store, manifest, chunks = _committed(settings)
    assert not manifest.dense_ready and chunks
    progress = IndexProgress.read(settings.index_dir)
    assert progress is not None and progress.stage == "failed" and not progress.alive
    snapshot = IndexReader(settings).snapshot()
    assert 0 < snapshot.dense_coverage < 1
    report = check_index(settings)
    assert "vectors_pending" in report.kinds() and report.usable

    counting_embedder.texts.clear()
    summary = Indexer(settings, embedder_factory=lambda: counting_embedder).run()
    # Only what the stopped run had not stored is embedded (the first batch, 256 texts, was).
    assert summary.chunks_embedded == len({c.embed_text for c in chunks}) - 256
    _, after, _ = _committed(settings)
    assert after.dense_ready and after.generation == manifest.generation
    assert IndexReader(settings).snapshot().dense_coverage == 1.0
    assert check_index(settings).healthy


def test_above_the_exact_search_limit_vectors_are_partitioned_and_switching_embeds_nothing(
        settings: Settings, small_corpus: Path, counting_embedder) -> None:  # noqa: ANN001
    """Past REGQA_EXACT_SEARCH_LIMIT dense search runs in Chroma, one collection per
    (jurisdiction, doc_type); a filtered search reads only the allowed partitions and finds what
    exact search finds. Crossing the limit either way re-stores vectors from the embedding cache."""
    from indexer.check import check_index, repair_index
    from indexer.reader import Filters, IndexReader

    Indexer(settings, embedder_factory=lambda: counting_embedder).run()
    _, single, chunks = _committed(settings)
    assert not single.partitioned

    big = Settings(**{**settings.model_dump(), "exact_search_limit": 10})
    counting_embedder.texts.clear()
    summary = Indexer(big, embedder_factory=lambda: counting_embedder).run()
    assert (summary.chunks_embedded, counting_embedder.texts) == (0, [])
    assert summary.chunks_from_cache == len(chunks)
    store, parted, _ = _committed(big)
    assert parted.partitioned and parted.collection != single.collection
    dense = DenseIndex(None, store.chroma_dir)
    names = dense.collection_names()
    assert single.collection not in names  # the old layout is gone
    layout = dense.store(parted.collection, partitioned=True)
    expected = {(c.jurisdiction, c.doc_type) for c in chunks}
    assert set(layout.sizes()) == expected and len(expected) >= 3
    assert layout.all_ids() == {c.chunk_id for c in chunks}
    assert layout.whole_collection() is not None  # unfiltered queries: one request
    assert check_index(big).healthy

    # An index written before the whole collection existed (or one that lost it): check finds
    # the vectors incomplete, unfiltered queries fan out meanwhile, repair re-stores from cache.
    dense.drop(layout.whole_name)
    assert dense.store(parted.collection, partitioned=True).whole_collection() is None
    report = check_index(big)
    assert "vectors_missing" in report.kinds() and report.vectors == 0
    counting_embedder.texts.clear()
    assert repair_index(big, embedder_factory=lambda: counting_embedder).healthy
    assert counting_embedder.texts == []
    assert dense.store(parted.collection, partitioned=True).whole_collection() is not None

    reader = IndexReader(big)
    snapshot = reader.snapshot()
    assert snapshot.vectors is None  # Chroma's HNSW, not the in-memory matrix
    exact = np.vstack([v for _, v in sorted(layout.get_vectors([c.chunk_id for c in chunks]).items())])
    ids = sorted(c.chunk_id for c in chunks)
    by_id = {c.chunk_id: c for c in chunks}
    query = np.asarray(counting_embedder.encode(["export authorisation for cyber-surveillance items"])[0])
    for filters in (Filters(), Filters.of(jurisdictions=["EU"]), Filters.of(jurisdictions=["US"], doc_types=["regulation"]),
                    Filters.of(doc_ids=["eu-2021-821-dual-use-regulation"])):
        hits = reader.dense_search(snapshot, query, 10, filters)
        allowed = [i for i, cid in enumerate(ids) if filters.allows(by_id[cid])]
        scores = dict(zip((ids[i] for i in allowed), exact[allowed] @ query))
        tenth = sorted(scores.values(), reverse=True)[min(9, len(scores) - 1)]
        assert hits and all(filters.allows(by_id[cid]) for cid, _ in hits)
        # HNSW is near-exact at this size: at least 9 of its 10 score as high as the exact tenth.
        # Judged by score, not by id: chunks whose cosines tie with the tenth to float32 precision
        # may be ranked either way round (a full-suite run once found 8 of 10 by id).
        assert sum(scores[cid] >= tenth - 1e-4 for cid, _ in hits) >= 9, filters

    counting_embedder.texts.clear()
    summary = Indexer(settings, embedder_factory=lambda: counting_embedder).run()  # back under the limit
    assert summary.chunks_embedded == 0 and summary.chunks_from_cache == len(chunks)
    _, back, _ = _committed(settings)
    assert not back.partitioned
    assert not [n for n in DenseIndex(None, store.chroma_dir).collection_names() if "--p-" in n]
    assert IndexReader(settings).snapshot().vectors is not None
