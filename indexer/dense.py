"""Dense vectors in Chroma: embedded PersistentClient by default, a Chroma server when
REGQA_CHROMA_URL is set. Chroma never embeds anything itself (its default function downloads
a model), and its telemetry is off.

Two layouts of one index's vectors share the `VectorStore` interface (`DenseIndex.store`):
`SingleCollection`, one collection filtered with Chroma's `where`, and `PartitionedCollections`,
one collection per (jurisdiction, doc_type). Chroma's metadata filter grows with the collection
(3 s p95 at 1M vectors for a 50 % jurisdiction, evals/bench/RESULTS.md §4) while a query of a
partition costs what an unfiltered query of its size costs, so above the in-memory limit a
filtered query reads only the partitions it allows."""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

import numpy as np

from indexer.records import Chunk
from regqa.config import ChromaServer

SPACE = {"hnsw:space": "cosine"}
PARTITION_MARK = "--p-"
# The name after PARTITION_MARK of the collection holding every vector; a partition's name
# always has a hyphen there (`{slug(j)}-{slug(t)}`), so the two cannot collide.
WHOLE = "all"
# HNSW search breadth of the collections a partitioned store creates (Chroma's default is 100).
# Measured with `python -m evals.bench scale` (synthetic clustered vectors, quiet machine): at
# 100k, 100 gave recall@10 0.93-1.0 against exact search and 200 gave 0.97-1.0, for 1-8 ms more
# p95 (7-14 ms in all). Fixed at creation: Chroma 1.5 ignores a later change (see scale.py).
PARTITION_EF_SEARCH = 200
# Per-value part of a partition name: readable ASCII, cut so any jurisdiction/doc_type pair fits
# Chroma's 512-character limit beside the index's own name.
SLUG_WORDS = 40
SLUG_HASH = 8
ID_BATCH = 5000
PAGE = 10000


class FilterLike(Protocol):
    """What a store reads of `indexer.reader.Filters` (duck-typed: reader imports this module)."""

    @property
    def jurisdictions(self) -> tuple[str, ...] | None: ...
    @property
    def doc_types(self) -> tuple[str, ...] | None: ...
    @property
    def doc_ids(self) -> tuple[str, ...] | None: ...


class VectorStore(Protocol):
    """The vectors of one index, whatever their layout in Chroma."""

    name: str

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None: ...
    def existing_ids(self, ids: Iterable[str]) -> set[str]: ...
    def misplaced(self, chunks: Sequence[Chunk]) -> set[str]: ...
    def all_ids(self) -> set[str]: ...
    def delete(self, ids: Iterable[str]) -> None: ...
    def get_vectors(self, ids: Iterable[str]) -> dict[str, np.ndarray]: ...
    def query(self, vector: np.ndarray, k: int,
              filters: FilterLike | None = None) -> list[tuple[str, float]]: ...
    def count(self) -> int: ...
    def drop(self) -> None: ...
    def collection_names(self) -> list[str]: ...


class ChromaUnavailable(RuntimeError):
    """The configured Chroma server has no such tenant or database (the message says which)."""


class DenseIndex:
    def __init__(self, chroma: str | ChromaServer | None, persist_dir: Path) -> None:
        """`chroma`: a server (or just its URL), or None for embedded Chroma in `persist_dir`."""
        import chromadb
        from chromadb.config import DEFAULT_DATABASE, DEFAULT_TENANT
        from chromadb.config import Settings as ChromaSettings
        from chromadb.errors import NotFoundError

        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        server = ChromaServer(chroma) if isinstance(chroma, str) else chroma
        if server:
            url = urlparse(server.url)
            try:
                self.client = chromadb.HttpClient(
                    host=url.hostname or "127.0.0.1",
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    headers={"x-chroma-token": server.token} if server.token else None,
                    settings=settings,
                    tenant=server.tenant or DEFAULT_TENANT,
                    database=server.database or DEFAULT_DATABASE,
                )
            except NotFoundError as exc:  # the client checks both when it is made
                raise ChromaUnavailable(
                    f"the Chroma server at {server.url} answered \"{exc}\" (tenant "
                    f"{server.tenant or DEFAULT_TENANT!r}, database {server.database or DEFAULT_DATABASE!r}). "
                    "Create the tenant or database there "
                    "(chromadb.AdminClient: create_tenant / create_database), or unset REGQA_CHROMA_TENANT "
                    "and REGQA_CHROMA_DATABASE to use Chroma's defaults") from None
            self.location = server.describe()
        else:
            persist_dir.mkdir(parents=True, exist_ok=True)
            self.client = chromadb.PersistentClient(path=str(persist_dir), settings=settings)
            self.location = str(persist_dir)

    @classmethod
    def fresh(cls, chroma: str | ChromaServer | None, persist_dir: Path) -> DenseIndex:
        """A client that sees every write made so far, by any process. Embedded Chroma keeps one
        client state per folder and process, and that state never notices another process's
        writes (`regqa index` while `regqa serve` runs: "Error finding id"), so readers take a
        fresh one per committed generation. Clients made earlier keep working."""
        if not chroma:
            from chromadb.api.shared_system_client import SharedSystemClient

            SharedSystemClient.clear_system_cache()
        return cls(chroma, persist_dir)

    def store(self, name: str, partitioned: bool, *, ef_search: int | None = None) -> VectorStore:
        """The vectors of the index `name` in one layout. `ef_search` (HNSW's search breadth;
        default PARTITION_EF_SEARCH for partitions, Chroma's 100 for one collection, which
        RegQA searches only below the exact-search limit, in memory) applies to collections
        this store creates."""
        if partitioned:
            return PartitionedCollections(self.client, name, ef_search=ef_search)
        return SingleCollection(self.client, name, ef_search=ef_search)

    # The single-collection API the indexer, reader and checker use (one collection by name).

    def collection(self, name: str):  # noqa: ANN201 - chromadb's Collection type
        return _open(self.client, name, SPACE)

    def collection_names(self) -> list[str]:
        return _names(self.client)

    def drop(self, name: str) -> None:
        if name in self.collection_names():
            self.client.delete_collection(name)

    def existing_ids(self, name: str, ids: Sequence[str]) -> set[str]:
        return SingleCollection(self.client, name).existing_ids(ids)

    def all_ids(self, name: str) -> set[str]:
        return SingleCollection(self.client, name).all_ids()

    def upsert(self, name: str, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        SingleCollection(self.client, name).upsert(chunks, vectors)

    def delete(self, name: str, ids: Iterable[str]) -> None:
        SingleCollection(self.client, name).delete(ids)

    def count(self, name: str) -> int:
        return SingleCollection(self.client, name).count()


class SingleCollection:
    """Today's layout: every vector in the collection `name`, each with its chunk's doc_id,
    jurisdiction, doc_type and section; a filter is Chroma's `where`."""

    def __init__(self, client: Any, name: str, *, ef_search: int | None = None) -> None:
        self.client = client
        self.name = name
        self._metadata = _space(ef_search)
        self._collection: Any = None
        self._batch: int | None = None

    @property
    def collection(self) -> Any:
        if self._collection is None:
            self._collection = _open(self.client, self.name, self._metadata)
        return self._collection

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        self._batch = self._batch or _batch_size(self.client)
        _upsert(self.collection, chunks, vectors, self._batch)

    def existing_ids(self, ids: Iterable[str]) -> set[str]:
        return _existing(self.collection, ids)

    def misplaced(self, chunks: Sequence[Chunk]) -> set[str]:
        """Chunks stored with other metadata than they now have (a document's jurisdiction or
        type changed, its chunk ids did not): `where` would filter them by the old values."""
        wanted = {c.chunk_id: _metadata(c) for c in chunks}
        stale: set[str] = set()
        for batch in _batches(list(wanted), ID_BATCH):
            got = self.collection.get(ids=batch, include=["metadatas"])
            for chunk_id, meta in zip(got["ids"], got["metadatas"]):
                want = wanted[chunk_id]
                if any((meta or {}).get(key) != want[key] for key in ("doc_id", "jurisdiction", "doc_type")):
                    stale.add(chunk_id)
        return stale

    def all_ids(self) -> set[str]:
        return _all_ids(self.collection)

    def delete(self, ids: Iterable[str]) -> None:
        _delete(self.collection, ids)

    def get_vectors(self, ids: Iterable[str]) -> dict[str, np.ndarray]:
        return _vectors(self.collection, ids)

    def query(self, vector: np.ndarray, k: int,
              filters: FilterLike | None = None) -> list[tuple[str, float]]:
        """Top-k (chunk id, cosine similarity), best first; fewer when fewer chunks match."""
        if k <= 0:
            return []
        return _merge([_query(self.collection, vector, k, _where(filters))], k)

    def count(self) -> int:
        return int(self.collection.count())

    def drop(self) -> None:
        if self.name in _names(self.client):
            self.client.delete_collection(self.name)
        self._collection = None

    def collection_names(self) -> list[str]:
        return [n for n in _names(self.client) if n == self.name]


class PartitionedCollections:
    """One collection per (jurisdiction, doc_type), named `{name}--p-{slug(j)}-{slug(t)}`, with
    the real values in its metadata, plus one whole collection `{name}--p-all` holding every
    vector. A filter picks partitions instead of filtering vectors; an unfiltered query asks
    the whole collection — one request instead of a fan-out over every partition, which costs
    a round trip per partition (~100 ms over 12 at any size, `evals/bench/scale.py`). The price
    is each vector stored twice (twice Chroma's memory and insert time). While the whole
    collection lags the partitions (an index written before it existed, until `regqa check
    --repair`), an unfiltered query fans out over the partitions instead, in parallel.

    The partitions (and their sizes, to skip empty ones) are listed once and cached: after this
    object's own writes the list is refreshed, another process's new partitions are seen after
    `refresh()` (RegQA's reader takes a fresh `DenseIndex` per committed generation anyway).

    `whole=False` leaves the whole collection out (the fan-out layout; benchmarks compare)."""

    def __init__(self, client: Any, name: str, *, ef_search: int | None = None,
                 max_workers: int = 4, whole: bool = True) -> None:
        self.client = client
        self.name = name
        self.prefix = f"{name}{PARTITION_MARK}"
        self.whole_name = f"{self.prefix}{WHOLE}"
        self._metadata = _space(ef_search or PARTITION_EF_SEARCH)
        self._max_workers = max_workers
        self._use_whole = whole
        # The whole collection and its size at the last refresh (None: absent or not used).
        self._whole: tuple[Any, int] | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._pool_lock = threading.Lock()
        # (jurisdiction, doc_type) → (collection, vectors in it at the last refresh); replaced
        # whole, never changed in place, so a query in another thread sees one consistent list.
        self._listing: dict[tuple[str, str], tuple[Any, int]] | None = None
        self._batch: int | None = None

    def partition_name(self, jurisdiction: str, doc_type: str) -> str:
        return f"{self.prefix}{slug(jurisdiction)}-{slug(doc_type)}"

    @property
    def partitions(self) -> dict[tuple[str, str], Any]:
        """(jurisdiction, doc_type) → collection, as of the last refresh."""
        return {key: collection for key, (collection, _) in self._partitions().items()}

    def sizes(self) -> dict[tuple[str, str], int]:
        """(jurisdiction, doc_type) → vectors, as of the last refresh."""
        return {key: size for key, (_, size) in self._partitions().items()}

    def refresh(self) -> None:
        """List the partitions again (Chroma's listing carries their metadata) and count them."""
        found: dict[tuple[str, str], tuple[Any, int]] = {}
        whole: tuple[Any, int] | None = None
        for collection in self.client.list_collections():
            meta = collection.metadata or {}
            if self._use_whole and collection.name == self.whole_name:
                whole = (collection, int(collection.count()))
            elif collection.name.startswith(self.prefix) and "jurisdiction" in meta and "doc_type" in meta:
                key = (str(meta["jurisdiction"]), str(meta["doc_type"]))
                found[key] = (collection, int(collection.count()))
        self._whole = whole
        self._listing = found

    def _partitions(self) -> dict[tuple[str, str], tuple[Any, int]]:
        if self._listing is None:
            self.refresh()
        assert self._listing is not None
        return self._listing

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        self._batch = self._batch or _batch_size(self.client)
        groups: dict[tuple[str, str], list[int]] = {}
        for i, chunk in enumerate(chunks):
            groups.setdefault((chunk.jurisdiction, chunk.doc_type), []).append(i)
        if self._use_whole:  # first: a vector in its partition is then in the whole one too
            _upsert(self._open_whole(), chunks, vectors, self._batch)
        for (jurisdiction, doc_type), rows in groups.items():
            collection = self._open(jurisdiction, doc_type)
            _upsert(collection, [chunks[i] for i in rows], vectors[rows], self._batch)
        self.refresh()

    def existing_ids(self, ids: Iterable[str]) -> set[str]:
        """Ids stored completely: in a partition and (when used) in the whole collection."""
        ids = list(ids)
        found: set[str] = set()
        for collection in self.partitions.values():
            found |= _existing(collection, ids)
        if self._use_whole:  # `self.partitions` above has listed the whole collection too
            found &= _existing(self._whole[0], sorted(found)) if self._whole else set()
        return found

    def misplaced(self, chunks: Sequence[Chunk]) -> set[str]:
        """Chunks stored in another partition than their jurisdiction and doc_type now name
        (chunk ids do not change with a document's metadata): delete them, then upsert."""
        ids = [c.chunk_id for c in chunks]
        home = {c.chunk_id: (c.jurisdiction, c.doc_type) for c in chunks}
        stale: set[str] = set()
        for key, collection in self.partitions.items():
            stale |= {cid for cid in _existing(collection, ids) if home[cid] != key}
        return stale

    def all_ids(self) -> set[str]:
        """Ids stored anywhere (a partition or the whole collection): what a clean-up deletes."""
        found: set[str] = set()
        for collection in self._collections():
            found |= _all_ids(collection)
        return found

    def delete(self, ids: Iterable[str]) -> None:
        """From every partition and the whole collection: an id alone does not say where its
        vector is."""
        ids = list(ids)
        if not ids:
            return
        for collection in self._collections():
            _delete(collection, sorted(_existing(collection, ids)))
        self.refresh()

    def get_vectors(self, ids: Iterable[str]) -> dict[str, np.ndarray]:
        ids = list(ids)
        found: dict[str, np.ndarray] = {}
        for collection in self.partitions.values():
            found.update(_vectors(collection, ids))
        return found

    def query(self, vector: np.ndarray, k: int,
              filters: FilterLike | None = None) -> list[tuple[str, float]]:
        """Top-k (chunk id, cosine similarity) over the partitions the filter allows, best
        first, ties by chunk id. A doc_ids filter (rare, selective) is a `where` within them."""
        chosen = self.chosen(filters)
        if k <= 0 or not chosen:
            return []
        where = {"doc_id": {"$in": list(filters.doc_ids)}} if filters and filters.doc_ids else None
        ask = partial(_query, vector=np.asarray(vector, dtype=np.float32), k=k, where=where)
        whole = self.whole_collection()
        every = sum(size > 0 for _, size in self._partitions().values())
        if whole is not None and where is None and len(chosen) == every:
            return _merge([ask(whole)], k)
        if len(chosen) == 1:
            return _merge([ask(chosen[0])], k)
        return _merge(self._executor().map(ask, chosen), k)

    def chosen(self, filters: FilterLike | None) -> list[Any]:
        """The non-empty partitions whose (jurisdiction, doc_type) the filter allows."""
        jurisdictions = filters.jurisdictions if filters else None
        doc_types = filters.doc_types if filters else None
        return [collection for (j, t), (collection, size) in sorted(self._partitions().items())
                if size > 0 and (not jurisdictions or j in jurisdictions)
                and (not doc_types or t in doc_types)]

    def whole_collection(self) -> Any | None:
        """The whole collection when it is used and holds at least what the partitions hold
        (it is written first), as of the last refresh; else None."""
        partitions = self._partitions()
        if self._whole is None or self._whole[1] < sum(size for _, size in partitions.values()):
            return None
        return self._whole[0]

    def count(self) -> int:
        return sum(int(c.count()) for c in self.partitions.values())

    def drop(self) -> None:
        """Every partition of this index, including ones another process created since."""
        for name in _names(self.client):
            if name.startswith(self.prefix):
                self.client.delete_collection(name)
        self.refresh()

    def collection_names(self) -> list[str]:
        return sorted(c.name for c in self._collections())

    def close(self) -> None:
        """Stop the query threads (they also stop when this object is garbage-collected)."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def _open(self, jurisdiction: str, doc_type: str) -> Any:
        known = self._partitions().get((jurisdiction, doc_type))
        if known is not None:
            return known[0]
        metadata = {**self._metadata, "jurisdiction": jurisdiction, "doc_type": doc_type}
        collection = _open(self.client, self.partition_name(jurisdiction, doc_type), metadata)
        self._listing = {**self._partitions(), (jurisdiction, doc_type): (collection, 0)}
        return collection

    def _open_whole(self) -> Any:
        self._partitions()
        if self._whole is None:
            self._whole = (_open(self.client, self.whole_name, dict(self._metadata)), 0)
        return self._whole[0]

    def _collections(self) -> list[Any]:
        """Every collection of this store: the partitions, then the whole one if present."""
        partitions = list(self.partitions.values())
        return partitions + [self._whole[0]] if self._whole is not None else partitions

    def _executor(self) -> ThreadPoolExecutor:
        """One small pool per store, made on the first fan-out. Chroma's clients may be shared
        by threads: the HTTP client is one httpx.Client ("can be shared between threads"), the
        embedded one releases the GIL in queries (chroma-core/chroma#3873)."""
        with self._pool_lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._max_workers,
                                                thread_name_prefix="regqa-partitions")
            return self._pool


def slug(value: str) -> str:
    """A collection-name-safe, injective stand-in for a jurisdiction or doc_type: readable
    ASCII words (`[a-z0-9-]`, never `_`, at most SLUG_WORDS characters), then `_` and a short
    hash of the exact value, so `US`/`us`/`U.S.` or two long values sharing a prefix differ."""
    ascii_text = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:SLUG_WORDS].strip("-")
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:SLUG_HASH]
    return f"{words or 'x'}_{digest}"


def _space(ef_search: int | None) -> dict[str, Any]:
    return {**SPACE, "hnsw:search_ef": ef_search} if ef_search else dict(SPACE)


def _open(client: Any, name: str, metadata: dict[str, Any]) -> Any:
    # embedding_function=None: vectors always come from RegQA's own model.
    return client.get_or_create_collection(name=name, embedding_function=None, metadata=metadata)


def _names(client: Any) -> list[str]:
    return [c if isinstance(c, str) else c.name for c in client.list_collections()]


def _batch_size(client: Any) -> int:
    return max(1, min(ID_BATCH, client.get_max_batch_size()))


def _metadata(chunk: Chunk) -> dict[str, str]:
    return {"doc_id": chunk.doc_id, "jurisdiction": chunk.jurisdiction, "doc_type": chunk.doc_type,
            "section": chunk.section}


def _upsert(collection: Any, chunks: Sequence[Chunk], vectors: np.ndarray, step: int) -> None:
    for i in range(0, len(chunks), step):
        part = chunks[i : i + step]
        collection.upsert(ids=[c.chunk_id for c in part], embeddings=vectors[i : i + step],
                          metadatas=[_metadata(c) for c in part])


def _existing(collection: Any, ids: Iterable[str]) -> set[str]:
    found: set[str] = set()
    for batch in _batches(list(ids), ID_BATCH):
        found.update(collection.get(ids=batch, include=[])["ids"])
    return found


def _all_ids(collection: Any) -> set[str]:
    found: set[str] = set()
    offset = 0
    while True:
        page = collection.get(include=[], limit=PAGE, offset=offset)["ids"]
        found.update(page)
        if len(page) < PAGE:
            return found
        offset += len(page)


def _delete(collection: Any, ids: Iterable[str]) -> None:
    for batch in _batches(list(ids), ID_BATCH):
        collection.delete(ids=batch)


def _vectors(collection: Any, ids: Iterable[str]) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    for batch in _batches(list(ids), ID_BATCH):
        got = collection.get(ids=batch, include=["embeddings"])
        found.update((cid, np.asarray(v, dtype=np.float32)) for cid, v in zip(got["ids"], got["embeddings"]))
    return found


def _where(filters: FilterLike | None) -> dict[str, Any] | None:
    """`indexer.reader.Filters.chroma_where`, from the three fields alone."""
    if filters is None:
        return None
    clauses = [{key: {"$in": list(values)}} for key, values in (
        ("jurisdiction", filters.jurisdictions), ("doc_type", filters.doc_types),
        ("doc_id", filters.doc_ids)) if values]
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _query(collection: Any, vector: np.ndarray, k: int,
           where: dict[str, Any] | None) -> list[tuple[str, float]]:
    """n_results=k even above the collection's size: Chroma 1.5 returns what it has (checked
    for empty collections too), which saves a count() round trip per query."""
    got = collection.query(query_embeddings=[np.asarray(vector, dtype=np.float32)], n_results=k,
                           where=where, include=["distances"])
    return [(cid, 1.0 - float(d)) for cid, d in zip(got["ids"][0], got["distances"][0])]


def _merge(hit_lists: Iterable[list[tuple[str, float]]], k: int) -> list[tuple[str, float]]:
    """Best first by similarity, ties by chunk id: the same hits always merge the same way."""
    return sorted((h for hits in hit_lists for h in hits), key=lambda h: (-h[1], h[0]))[:k]


def _batches(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
