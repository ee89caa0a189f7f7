"""Read side of the index: one committed generation held in memory, reloaded when a new one
is committed. Dense hits that the committed generation does not name (vectors of an
interrupted run, or of a document removed a moment ago) are never returned."""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np

from indexer.dense import DenseIndex, VectorStore
from indexer.embedding_cache import cached_vectors
from indexer.progress import IndexProgress
from indexer.records import Chunk
from indexer.sparse import SparseIndex
from indexer.store import IndexStore, Manifest
from regqa.config import Settings

T = TypeVar("T")

log = logging.getLogger("regqa.reader")


class IndexMissing(RuntimeError):
    """No committed index yet."""


@dataclass(frozen=True)
class Filters:
    """Restrict retrieval to some jurisdictions, document types or documents (None = all)."""

    jurisdictions: tuple[str, ...] | None = None
    doc_types: tuple[str, ...] | None = None
    doc_ids: tuple[str, ...] | None = None

    @classmethod
    def of(cls, jurisdictions: Sequence[str] | None = None, doc_types: Sequence[str] | None = None,
           doc_ids: Sequence[str] | None = None) -> Filters:
        def clean(values: Sequence[str] | None) -> tuple[str, ...] | None:
            return tuple(v for v in values if v) or None if values else None

        return cls(clean(jurisdictions), clean(doc_types), clean(doc_ids))

    @property
    def empty(self) -> bool:
        return not (self.jurisdictions or self.doc_types or self.doc_ids)

    def allows(self, chunk: Chunk) -> bool:
        return (
            (not self.jurisdictions or chunk.jurisdiction in self.jurisdictions)
            and (not self.doc_types or chunk.doc_type in self.doc_types)
            and (not self.doc_ids or chunk.doc_id in self.doc_ids)
        )


@dataclass
class Snapshot:
    """Everything a query needs from one committed generation."""

    manifest: Manifest
    chunks: list[Chunk]
    by_id: dict[str, Chunk]
    sparse: SparseIndex
    by_doc: dict[str, list[Chunk]] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)
    # The generation's vectors in memory (rows in `sparse.ids` order) for exact search; None
    # when the index is too large and Chroma's approximate (HNSW) search is used instead.
    vectors: np.ndarray | None = None
    masks: dict[Filters, np.ndarray] = field(default_factory=dict)
    # While a warm start is still storing vectors: which rows of `vectors` hold one (None = all),
    # and how many chunks have a vector (the dense search's coverage).
    present: np.ndarray | None = None
    dense_count: int | None = None
    # Where this generation's vectors are in Chroma (one collection, or partitions): set above
    # the exact-search limit, or when vectors had to be read from Chroma; None when all came
    # from the embedding cache.
    store: VectorStore | None = None
    # Values derived from `chunks` alone (see `derive`), kept with them.
    derived: dict[str, object] = field(default_factory=dict)

    def derive(self, name: str, build: Callable[[], T]) -> T:
        """`build()`'s value for these chunks, built once: what a question needs to know of the
        whole corpus (which Wassenaar entries are bundled) is not re-read per question."""
        if name not in self.derived:
            self.derived[name] = build()
        return self.derived[name]  # type: ignore[return-value]

    @property
    def dense_coverage(self) -> float:
        """The share of chunks that dense search can find: 1.0 once the index is whole."""
        if self.dense_count is None or not self.chunks:
            return 1.0
        return min(1.0, self.dense_count / len(self.chunks))

    @classmethod
    def build(cls, manifest: Manifest, chunks: list[Chunk], sparse: SparseIndex) -> Snapshot:
        by_doc: dict[str, list[Chunk]] = {}
        for chunk in chunks:
            by_doc.setdefault(chunk.doc_id, []).append(chunk)
        for doc_chunks in by_doc.values():
            doc_chunks.sort(key=lambda c: c.ordinal)
        return cls(manifest, chunks, {c.chunk_id: c for c in chunks}, sparse, by_doc,
                   {cid: i for i, cid in enumerate(sparse.ids)})

    def mask(self, filters: Filters) -> np.ndarray | None:
        """0/1 per chunk (in index order); built once per distinct filter, since one question
        runs several dense and sparse searches with the same filter."""
        if filters.empty:
            return None
        mask = self.masks.get(filters)
        if mask is None:
            mask = np.array([1.0 if filters.allows(self.by_id[cid]) else 0.0 for cid in self.sparse.ids],
                            dtype=np.float32)
            if len(self.masks) >= 256:
                self.masks.clear()
            self.masks[filters] = mask
        return mask

    def neighbours(self, chunk_id: str, before: int = 1, after: int = 1) -> list[Chunk]:
        chunk = self.by_id[chunk_id]
        doc_chunks = self.by_doc[chunk.doc_id]
        i = next(i for i, c in enumerate(doc_chunks) if c.chunk_id == chunk_id)
        return doc_chunks[max(0, i - before) : i + after + 1]


class IndexReader:
    """Thread-safe access to the latest committed generation; cheap to call per request.

    `embedding` is the identity of the query embedder: an index built by another model or
    backend would rank by meaningless distances, so it is refused rather than searched."""

    def __init__(self, settings: Settings, *, recheck_seconds: float = 1.0,
                 embedding: str | None = None) -> None:
        self.settings = settings
        self.embedding = embedding
        self.store = IndexStore(settings.index_dir)
        self._dense: DenseIndex | None = None
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._checked = 0.0
        self._recheck = recheck_seconds
        self._stamp: tuple[int, int] | None = None
        self._progress_seen = 0.0  # updated_at of the progress report the vectors were loaded after

    def invalidate(self) -> None:
        """Look at the manifest again on the next call (after this process wrote the index)."""
        self._checked = 0.0

    def snapshot(self) -> Snapshot:
        now = time.monotonic()
        if self._snapshot is not None and now - self._checked < self._recheck:
            return self._snapshot
        with self._lock:
            self._checked = now
            try:
                stat = self.store.manifest_path.stat()
            except FileNotFoundError:
                progress = IndexProgress.running(self.store.root)
                if progress is not None:
                    raise IndexMissing(f"the index is being built ({progress.describe()}); answers "
                                       "start as soon as the documents are read, in a few seconds") from None
                raise IndexMissing(
                    f"no index at {self.settings.index_dir}; run `regqa index` first"
                ) from None
            stamp = (stat.st_mtime_ns, stat.st_size)
            if self._snapshot is None or stamp != self._stamp:
                manifest = self.store.read_manifest()
                if self.embedding and manifest.embedding and manifest.embedding != self.embedding:
                    raise IndexMissing(
                        f"the index at {self.settings.index_dir} was built with embeddings "
                        f"{manifest.embedding!r}, but this process embeds questions with "
                        f"{self.embedding!r} (REGQA_EMBEDDING_BACKEND); run `regqa index` to "
                        "re-embed the corpus, or set the backend the index was built with"
                    )
                if self._snapshot is not None and manifest.generation == self._snapshot.manifest.generation \
                        and manifest.dense_ready != self._snapshot.manifest.dense_ready:
                    self._snapshot = self._with_new_vectors(self._snapshot, manifest)  # warm-up done
                elif self._snapshot is None or manifest.generation != self._snapshot.manifest.generation:
                    try:
                        self._snapshot = self._load(manifest)
                    except Exception:
                        if self._snapshot is None:
                            raise
                        # Keep answering from the generation in memory and try again at the next
                        # recheck (e.g. a second commit removed the generation being loaded).
                        log.warning("cannot load generation %s yet; still serving %s", manifest.generation,
                                    self._snapshot.manifest.generation, exc_info=True)
                        return self._snapshot
                self._stamp = stamp
            elif not self._snapshot.manifest.dense_ready:
                progress = IndexProgress.read(self.store.root)
                if progress is not None and progress.updated_at > self._progress_seen and (
                        progress.finished or progress.vectors != self._snapshot.dense_count):
                    self._snapshot = self._with_new_vectors(self._snapshot, self._snapshot.manifest, progress)
            return self._snapshot

    def _load(self, manifest: Manifest) -> Snapshot:
        chunks = self.store.read_chunks(manifest.generation)
        sparse = self.store.read_sparse(manifest.generation)
        snapshot = Snapshot.build(manifest, chunks, sparse)
        return self._with_new_vectors(snapshot, manifest)

    def _with_new_vectors(self, snapshot: Snapshot, manifest: Manifest,
                          progress: IndexProgress | None = None) -> Snapshot:
        """The snapshot with every vector stored so far. A new object, never a mutation: a query
        running on the previous one keeps a consistent view. During a warm start this runs when
        the progress report says more vectors were stored, and fetches only the new ones.

        In memory (below the exact-search limit) the vectors come from the index's embedding
        cache, which the indexer fills before it writes Chroma; Chroma is read only for what the
        cache lacks, and only once the index is whole. Embedded Chroma does not support one
        process reading while another writes: a server reading a warming collection saw "Nothing
        found on disk" and once segfaulted in Chroma's Rust bindings. SQLite in WAL mode does."""
        progress = progress or IndexProgress.read(self.store.root)
        self._progress_seen = progress.updated_at if progress else time.time()
        ids = snapshot.sparse.ids
        if len(snapshot.chunks) > self.settings.exact_search_limit:
            store = self._fresh_store(manifest)
            count = None if manifest.dense_ready else store.count()
            return dataclasses.replace(snapshot, manifest=manifest, dense_count=count, store=store)
        # Only a warming snapshot is refreshed: start from its rows, or from none.
        warming = snapshot.present is not None
        vectors = snapshot.vectors if warming else None
        present = snapshot.present if warming else np.zeros(len(ids), dtype=bool)
        wanted = [cid for cid, have in zip(ids, present) if not have]
        rows: dict[str, np.ndarray] = {}
        if manifest.embedding:
            texts = {cid: snapshot.by_id[cid].embed_text for cid in wanted}
            by_text = cached_vectors(self.store.embedding_cache_path, manifest.embedding, list(texts.values()))
            rows = {cid: by_text[text] for cid, text in texts.items() if text in by_text}
        store = snapshot.store
        lacking = [cid for cid in wanted if cid not in rows]
        if lacking and manifest.dense_ready:  # e.g. an index built before the cache held every vector
            store = self._fresh_store(manifest)
            rows.update(store.get_vectors(lacking))
        if rows:
            dimension = len(next(iter(rows.values())))
            vectors = np.zeros((len(ids), dimension), np.float32) if vectors is None else vectors.copy()
            present = present.copy()
            for cid, row in rows.items():
                position = snapshot.positions[cid]
                vectors[position], present[position] = row, True
        missing = len(ids) - int(present.sum())
        if missing and manifest.dense_ready:
            example = next(cid for cid, have in zip(ids, present) if not have)
            raise RuntimeError(f"{missing} chunks of the committed index have no vector in Chroma "
                               f"(e.g. {example}); run `regqa index --rebuild`")
        return dataclasses.replace(snapshot, manifest=manifest, vectors=vectors,
                                   present=present if missing else None,
                                   dense_count=int(present.sum()) if missing else None, store=store)

    def _fresh_store(self, manifest: Manifest) -> VectorStore:
        # Another process may have written this generation's vectors: read them afresh.
        self._dense = DenseIndex.fresh(self.settings.chroma_server, self.store.chroma_dir)
        return self.dense.store(manifest.collection, manifest.partitioned)

    @property
    def dense(self) -> DenseIndex:
        if self._dense is None:
            self._dense = DenseIndex(self.settings.chroma_server, self.store.chroma_dir)
        return self._dense

    def dense_search(self, snapshot: Snapshot, vector: np.ndarray, k: int,
                     filters: Filters) -> list[tuple[str, float]]:
        """Top-k (chunk id, cosine similarity) among chunks of the given snapshot.

        Exact and deterministic over the vectors held in memory when the index is small
        enough (it is for the bundled corpus); Chroma's HNSW search otherwise."""
        if not snapshot.chunks or (snapshot.present is not None and snapshot.vectors is None):
            return []  # nothing, or a warm start with no vector stored yet
        if snapshot.vectors is not None:
            scores = snapshot.vectors @ np.asarray(vector, dtype=np.float32)
            mask = snapshot.mask(filters)
            if mask is not None:
                scores = np.where(mask > 0, scores, -np.inf)
            if snapshot.present is not None:  # warm start: chunks without a vector yet
                scores = np.where(snapshot.present, scores, -np.inf)
            k = min(k, len(scores))
            top = np.argpartition(-scores, k - 1)[:k]
            top = top[np.lexsort((top, -scores[top]))]  # by score, ties by position: deterministic
            return [(snapshot.sparse.ids[i], float(scores[i])) for i in top if np.isfinite(scores[i])]
        assert snapshot.store is not None  # set whenever the vectors are not held in memory
        # Above the limit: Chroma's HNSW search, in the partitions the filter allows (or the one
        # collection with its `where`, for an index built before partitions).
        return [(cid, sim) for cid, sim in snapshot.store.query(vector, min(k, len(snapshot.chunks)), filters)
                if cid in snapshot.by_id]
