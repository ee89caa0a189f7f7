"""Incremental indexing: skip unchanged documents, replace changed ones, remove deleted ones.

Order of work, chosen so that a crash at any point leaves the committed index usable:
  1. load and chunk new or changed documents (bad files are reported and skipped);
  2. embed only chunks whose vectors are not in Chroma yet, and upsert them;
  3. write a new generation (chunks + BM25) beside the old one;
  4. commit the manifest atomically;
  5. only then delete vectors and generations that the new manifest no longer names.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from indexer.chunker import CHUNKER_VERSION, Chunker
from indexer.dense import PARTITION_MARK, DenseIndex, VectorStore
from indexer.bundled_vectors import BUNDLED_VECTORS, BundledVectors
from indexer.embedding_cache import EmbeddingCache
from indexer.embeddings import embedding_identity, load_embedder
from indexer.loaders import LoadError, discover, load_document
from indexer.loaders.metadata import sidecar_path
from indexer.pause import pause_point
from indexer.progress import ProgressRecorder
from indexer.records import Chunk
from indexer.sparse import SPARSE_VERSION, SparseIndex
from indexer.store import DocumentEntry, IndexBusy, IndexStore, Manifest, now  # noqa: F401 - IndexBusy re-exported
from indexer.tokens import TokenCounter
from regqa.config import Settings

# (stage, done, total) — stages: "scan", "chunk", "embed", "write"
ProgressCallback = Callable[[str, int, int], None]


@dataclass
class Skipped:
    path: str
    reason: str


@dataclass
class IndexSummary:
    documents: int = 0
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    not_indexed: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    chunks: int = 0
    chunks_embedded: int = 0  # texts run through the model
    chunks_from_cache: int = 0  # vectors reused from the embedding cache
    chunks_from_bundled: int = 0  # vectors shipped for the bundled corpus (indexer/bundled_vectors.py)
    seconds: float = 0.0
    committed: bool = False

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


class Indexer:
    def __init__(self, settings: Settings, embedder_factory: Callable[[], object] | None = None,
                 bundled_vectors_file: Path = BUNDLED_VECTORS) -> None:
        self.settings = settings
        self._bundled_file = bundled_vectors_file
        self.store = IndexStore(settings.index_dir)
        self._embedder_factory = embedder_factory or self._default_embedder
        self._embedder = None
        self._embedding_cache: EmbeddingCache | None = None
        self._bundled: BundledVectors | None = None

    # -- entry points ------------------------------------------------------------------------

    def run(
        self,
        paths: Sequence[Path] | None = None,
        *,
        rebuild: bool = False,
        progress: ProgressCallback | None = None,
    ) -> IndexSummary:
        roots = [p.resolve() for p in (paths or [self.settings.default_corpus])]
        for root in roots:
            if not root.exists():
                raise FileNotFoundError(f"no such file or folder: {root}")
        with self.store.writing():
            recorder = ProgressRecorder(self.store.root, progress or _no_progress)
            try:
                summary = self._run(roots, rebuild, recorder)
            except BaseException as exc:
                recorder.finish("failed", f"{type(exc).__name__}: {exc}")
                raise
            recorder.finish("done")
            return summary

    def remove(self, doc_ids: Sequence[str]) -> IndexSummary:
        """Drop documents from the index by id (the files themselves are not touched)."""
        with self.store.writing():
            started = time.perf_counter()
            manifest = self.store.read_manifest()
            unknown = [d for d in doc_ids if d not in manifest.documents]
            if unknown:
                raise KeyError(f"not in the index: {', '.join(unknown)}")
            old_chunks = self.store.read_chunks(manifest.generation)
            keep = [c for c in old_chunks if c.doc_id not in doc_ids]
            summary = IndexSummary(removed=list(doc_ids))
            documents = {k: v for k, v in manifest.documents.items() if k not in doc_ids}
            self._commit(manifest, documents, keep, old_chunks, manifest.collection, summary,
                         dense_ready=manifest.dense_ready, partitioned=manifest.partitioned)
            summary.seconds = time.perf_counter() - started
            return summary

    # -- the run -----------------------------------------------------------------------------

    def _run(self, roots: list[Path], rebuild: bool, progress: ProgressRecorder) -> IndexSummary:
        started = time.perf_counter()
        summary = IndexSummary()
        manifest = self._committed_manifest(rebuild)
        counter = TokenCounter(self.settings.model_path)
        chunker = Chunker(counter, self.settings.max_tokens, self.settings.max_context_tokens)
        # Any change to chunking or keyword tokenisation re-chunks everything; vectors whose
        # chunk ids are unchanged are reused, so this costs no embedding.
        chunking = (f"{CHUNKER_VERSION}:{self.settings.max_tokens}:{self.settings.max_context_tokens}"
                    f":bm25-{SPARSE_VERSION}")
        embedding = embedding_identity(self.settings)
        old_chunks = self._committed_chunks(manifest)
        # Lost chunks (see `regqa check`) mean every document is read again, as on a rebuild.
        start_over = rebuild or manifest.chunking != chunking or manifest.embedding != embedding \
            or old_chunks is None
        old_chunks = old_chunks or []
        rebuild_tag = f"-r{self.store.new_generation().split('-')[0].lower()}" if rebuild else ""

        old_by_doc: dict[str, list[Chunk]] = {}
        for chunk in old_chunks:
            old_by_doc.setdefault(chunk.doc_id, []).append(chunk)
        by_path = {entry.path: doc_id for doc_id, entry in manifest.documents.items()}

        files = list(discover(roots))
        listed = {str(path) for path in files}
        documents: dict[str, DocumentEntry] = {}
        new_chunks: dict[str, list[Chunk]] = {}
        seen_paths: set[str] = set()
        for i, path in enumerate(files, start=1):
            progress("scan", i, len(files))
            key = str(path)
            seen_paths.add(key)
            pause_point("before-reading", key)
            try:
                digest = _file_digest(path)
            except OSError as exc:
                summary.skipped.append(Skipped(key, f"cannot read the file: {exc.strerror or exc}"))
                continue
            previous_id = by_path.get(key)
            previous = manifest.documents.get(previous_id) if previous_id else None
            if previous and not start_over and previous.sha256 == digest and previous_id not in documents:
                documents[previous_id] = previous
                new_chunks[previous_id] = old_by_doc.get(previous_id, [])
                summary.unchanged.append(previous_id)
                continue
            try:
                parsed = load_document(
                    path, max_bytes=self.settings.max_file_bytes, max_pdf_pages=self.settings.max_pdf_pages
                )
            except LoadError as exc:
                reason = str(exc)
                if previous:
                    # Keep the last good version rather than drop a document over a bad edit.
                    documents[previous_id] = previous
                    new_chunks[previous_id] = old_by_doc.get(previous_id, [])
                    reason += " (the previously indexed version is kept)"
                summary.skipped.append(Skipped(key, reason))
                continue
            meta = parsed.meta
            if not meta.index:
                summary.not_indexed.append(meta.id)
                continue
            if meta.id in documents:
                summary.skipped.append(Skipped(
                    key, f"duplicate document id {meta.id!r}: already used by {documents[meta.id].path}"
                ))
                continue
            owner = manifest.documents.get(meta.id)
            # The incumbent keeps its id, whichever file this run happens to read first: a new
            # file must not replace an indexed document's text by claiming its id.
            if owner and owner.path != key and Path(owner.path).exists() \
                    and (owner.path in listed or not _under(Path(owner.path), roots)):
                summary.skipped.append(Skipped(
                    key, f"duplicate document id {meta.id!r}: already indexed from {owner.path}"
                ))
                continue
            chunks = chunker.chunk(parsed)
            if not chunks:
                summary.skipped.append(Skipped(key, "no indexable text was found in the document"))
                continue
            documents[meta.id] = DocumentEntry(
                meta=meta, path=key, sha256=digest, chunk_count=len(chunks), indexed_at=now()
            )
            new_chunks[meta.id] = chunks
            (summary.updated if meta.id in manifest.documents else summary.added).append(meta.id)

        # Documents indexed from elsewhere stay; those whose file is gone or no longer yields
        # them (deleted, renamed id, `index: false`) go, and so do those whose chunks were lost.
        for doc_id, entry in manifest.documents.items():
            if doc_id in documents:
                continue
            if entry.path in seen_paths or _under(Path(entry.path), roots) or doc_id not in old_by_doc:
                summary.removed.append(doc_id)
            else:
                documents[doc_id] = entry
                new_chunks[doc_id] = old_by_doc.get(doc_id, [])

        all_chunks = [c for doc_id in sorted(new_chunks) if doc_id in documents for c in new_chunks[doc_id]]
        summary.documents = len(documents)
        summary.chunks = len(all_chunks)
        # Above the in-memory limit, vectors live in one collection per (jurisdiction, doc_type):
        # Chroma's own filter grows with the collection. Crossing the limit either way writes
        # the other layout from the embedding cache (nothing is embedded again) at the commit.
        partitioned = len(all_chunks) > self.settings.exact_search_limit
        collection = self._collection_name(manifest, embedding, partitioned, rebuild_tag)
        unchanged = not start_over and not summary.changed and bool(manifest.generation) \
            and collection == manifest.collection
        if unchanged and manifest.dense_ready:
            if self._has_leftovers(manifest.generation):  # a run killed after its commit
                self._clean_up(manifest.collection, manifest.collection, all_chunks,
                               manifest.generation, manifest.embedding, manifest.partitioned)
            summary.seconds = time.perf_counter() - started
            return summary

        # Warm start: with no usable index yet (a first run, or one whose vectors are still
        # arriving), commit the chunks and BM25 before embedding, so that a server answers from
        # exact references, keywords and titles in seconds, and from dense search as the vectors
        # are stored. With a usable index, the old one keeps serving until the new one is whole.
        warm = not manifest.generation or not manifest.dense_ready
        vectors = self._dense().store(collection, partitioned)
        changed_ids = {c.chunk_id for d in summary.added + summary.updated for c in new_chunks.get(d, [])}
        misplaced = vectors.misplaced([c for c in all_chunks if c.chunk_id in changed_ids]) if changed_ids else set()
        if misplaced:  # a document's jurisdiction or type changed: its vectors move (from the cache)
            vectors.delete(misplaced)
        if warm and not unchanged:
            self._commit(manifest, documents, all_chunks, old_chunks, collection, summary, chunking=chunking,
                         embedding=embedding, progress=progress, dense_ready=False, partitioned=partitioned)
            manifest = self.store.read_manifest()
        self._embed_missing(vectors, embedding, all_chunks, summary, progress, progress.vectors)
        if warm:
            self.store.commit(manifest.model_copy(update={"dense_ready": True}))
            summary.committed = True
        else:
            self._commit(manifest, documents, all_chunks, old_chunks, collection, summary, chunking=chunking,
                         embedding=embedding, progress=progress, partitioned=partitioned)
        summary.seconds = time.perf_counter() - started
        return summary

    def _collection_name(self, manifest: Manifest, embedding: str, partitioned: bool, rebuild_tag: str) -> str:
        """One collection (or set of partitions) per embedding model and layout, so an interrupted
        first run resumes where it stopped; a rebuild writes a fresh one and switches at the
        commit; an index keeps the one it has while its model and layout stay the same."""
        base = f"{self.settings.collection}-{embedding.replace(':', '-').replace('_', '-').lower()}"
        base += "-parts" if partitioned else ""
        if rebuild_tag:
            return base + rebuild_tag
        same = manifest.embedding == embedding and manifest.partitioned == partitioned
        if same and (manifest.collection == base or manifest.collection.startswith(f"{base}-r")):
            return manifest.collection
        return base

    def _embed_missing(self, vectors: VectorStore, identity: str, chunks: list[Chunk],
                       summary: IndexSummary, progress: ProgressCallback,
                       on_vectors: Callable[[int, int], None] = lambda *_: None) -> None:
        """Store a vector for every chunk the collection lacks: from the embedding cache when the
        text was embedded before, else from the shipped file, else from the model — once per distinct
        text. The progress file counts the stored vectors after every embedded batch (readers load
        them as they arrive)."""
        present = vectors.existing_ids([c.chunk_id for c in chunks])
        stored = sum(c.chunk_id in present for c in chunks)
        by_text: dict[str, list[Chunk]] = {}
        for chunk in chunks:
            if chunk.chunk_id not in present:
                by_text.setdefault(chunk.embed_text, []).append(chunk)
        on_vectors(stored, len(chunks))
        if not by_text:
            return
        step = 256  # upsert as we go, so an interrupted run keeps what it has embedded
        cache = self._cache(identity)
        cached = cache.get_many(list(by_text))
        shipped = self._bundled_vectors(identity).get_many([t for t in by_text if t not in cached])

        def upsert_known(found: dict[str, np.ndarray]) -> int:
            texts, count = list(found), 0
            for i in range(0, len(texts), step):
                part = [c for t in texts[i : i + step] for c in by_text[t]]
                vectors.upsert(part, np.vstack([found[c.embed_text] for c in part]))
                count += len(part)
            return count

        # The cache holds every vector this index stores, shipped ones too, before Chroma gets
        # it: a serving process reads a warming index's vectors from the cache (SQLite, safe to
        # read while this process writes) and never from embedded Chroma, which is not — reading
        # it mid-write crashed a server in Chroma's Rust bindings (see indexer/reader.py).
        if shipped:
            cache.put_many(list(shipped), np.vstack(list(shipped.values())))
        # Known vectors are stored back to back in seconds: one report once they are all stored,
        # or none when nothing is left to embed (the commit's report follows).
        known = upsert_known(cached)
        summary.chunks_from_cache += known
        shipped_count = upsert_known(shipped)
        summary.chunks_from_bundled += shipped_count
        stored += known + shipped_count
        cached.update(shipped)
        # Shortest first across the whole run, not just within one call: batches of similar
        # length waste little work on padding.
        todo = sorted((t for t in by_text if t not in cached), key=len)
        if not todo:
            return
        if known or shipped_count:
            on_vectors(stored, len(chunks))
        embedder = self._get_embedder()
        done = 0
        progress("embed", 0, len(todo))
        for i in range(0, len(todo), step):
            texts = todo[i : i + step]

            def tick(n: int) -> None:
                nonlocal done
                done += n
                progress("embed", done, len(todo))

            embedded = np.asarray(embedder.encode(texts, on_batch=tick), dtype=np.float32)
            cache.put_many(texts, embedded)
            rows = dict(zip(texts, embedded))
            part = [c for t in texts for c in by_text[t]]
            vectors.upsert(part, np.vstack([rows[c.embed_text] for c in part]))
            summary.chunks_embedded += len(texts)
            stored += len(part)
            on_vectors(stored, len(chunks))
            pause_point("after-first-upsert-batch")  # some vectors stored, the rest not embedded yet

    def _commit(self, manifest: Manifest, documents: dict[str, DocumentEntry], chunks: list[Chunk],
                old_chunks: list[Chunk], collection: str, summary: IndexSummary, *,
                chunking: str | None = None, embedding: str | None = None,
                progress: ProgressCallback = lambda *_: None, dense_ready: bool = True,
                partitioned: bool = False) -> None:
        progress("write", 0, 1)
        generation = self.store.new_generation()
        sparse = SparseIndex.build([c.chunk_id for c in chunks], [c.embed_text for c in chunks])
        self.store.write_generation(generation, chunks, sparse)
        old_collection = manifest.collection
        committed = Manifest(
            chunking=chunking or manifest.chunking,
            embedding=embedding or manifest.embedding,
            collection=collection,
            generation=generation,
            documents=documents,
            dense_ready=dense_ready,
            partitioned=partitioned,
        )
        pause_point("before-manifest-commit")  # the new generation is complete, not committed
        self.store.commit(committed)
        summary.committed = True
        pause_point("after-manifest-commit")  # committed, the old generation not yet cleaned up
        self._clean_up(collection, old_collection, chunks, generation, committed.embedding, partitioned)
        progress("write", 1, 1)

    def _clean_up(self, collection: str, old_collection: str, chunks: list[Chunk], generation: str,
                  embedding: str, partitioned: bool = False) -> None:
        """After the commit point: stale vectors, old generations, an old collection (or its
        partitions). A run killed in here leaves them for the next run, which repeats this even
        when nothing changed."""
        dense = self._dense()
        vectors = dense.store(collection, partitioned)
        current = {collection, *vectors.collection_names()}
        prefix = f"{self.settings.collection}-"
        for name in dense.collection_names():
            old = name == old_collection or name.startswith(old_collection + PARTITION_MARK)
            if name not in current and (old or name.startswith(prefix)):
                dense.drop(name)  # the previous model's or layout's vectors, or an interrupted rebuild's
        keep = {c.chunk_id for c in chunks}
        stale = vectors.all_ids() - keep
        if stale:
            vectors.delete(stale)
        self.store.remove_other_generations(generation)
        if embedding:
            self._cache(embedding).keep_only(c.embed_text for c in chunks)

    # -- helpers -----------------------------------------------------------------------------

    def _committed_manifest(self, rebuild: bool) -> Manifest:
        """The committed manifest; a rebuild starts from nothing if it cannot be read."""
        try:
            return self.store.read_manifest()
        except ValueError:
            if not rebuild:
                raise
            return Manifest()

    def _committed_chunks(self, manifest: Manifest) -> list[Chunk] | None:
        """The committed generation's chunks; None when they cannot be read."""
        try:
            return self.store.read_chunks(manifest.generation) if manifest.generation else []
        except (OSError, ValueError):
            return None

    def _has_leftovers(self, generation: str) -> bool:
        generations = self.store.generations
        return generations.exists() and any(p.name != generation for p in generations.iterdir())

    def _dense(self) -> DenseIndex:
        if not hasattr(self, "_dense_index"):
            self._dense_index = DenseIndex(self.settings.chroma_server, self.store.chroma_dir)
        return self._dense_index

    def _cache(self, identity: str) -> EmbeddingCache:
        if self._embedding_cache is None or self._embedding_cache.identity != identity:
            self._embedding_cache = EmbeddingCache(self.store.embedding_cache_path, identity)
        return self._embedding_cache

    def _bundled_vectors(self, identity: str) -> BundledVectors:
        """The shipped vectors when enabled and made with this identity; else an empty lookup."""
        if self._bundled is None or self._bundled.identity != identity:
            shipped = BundledVectors.load(identity, self._bundled_file) if self.settings.bundled_vectors else None
            self._bundled = shipped or BundledVectors.empty(identity)
        return self._bundled

    def _get_embedder(self):  # noqa: ANN202
        if self._embedder is None:
            self._embedder = self._embedder_factory()
        return self._embedder

    def _default_embedder(self):  # noqa: ANN202
        return load_embedder(self.settings)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    sidecar = sidecar_path(path)
    if sidecar is not None:
        digest.update(b"\0sidecar\0" + sidecar.read_bytes())
    return digest.hexdigest()


def _under(path: Path, roots: list[Path]) -> bool:
    return any(path == root or root in path.parents for root in roots)


def _no_progress(stage: str, done: int, total: int) -> None:
    return None
