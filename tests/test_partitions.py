"""Partitioned dense search (issue 15): one Chroma collection per (jurisdiction, doc_type), a
filter picks partitions; an unfiltered query asks the whole collection kept beside them (or,
while that lags, fans out over the partitions and merges). Real embedded Chroma with
synthetic unit vectors; one test against a real `chroma run` server."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from indexer.dense import DenseIndex, PartitionedCollections, VectorStore, slug
from indexer.reader import Filters
from indexer.records import Chunk

from .test_chroma_server import chroma_server  # noqa: F401 - the fixture, reused

DIM = 32
# HNSW is approximate, and Chroma builds its graph in parallel (not the same graph every run):
# with ef_search at least the number of vectors a search visits every reachable one, so the
# stores compared with numpy exact search here are exhaustive, run after run.
EXHAUSTIVE = 4096
JURISDICTIONS = ("US", "EU", "UK", "Wassenaar")
DOC_TYPES = ("regulation", "control_list", "guidance")
DOCS = 12
N = 3000
K = 10
NAME = "regqa-chunks-test"
CHROMA_NAME = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9._-]{1,510}[a-zA-Z0-9]$")


def make_chunk(i: int, jurisdiction: str, doc_type: str, doc: int) -> Chunk:
    return Chunk(chunk_id=f"doc-{doc}:{i:06x}", doc_id=f"doc-{doc}", ordinal=i, cite_as=f"Doc {doc}",
                 title=f"Document {doc}", section=f"§ {i}", heading_path=f"Doc {doc} > § {i}", context="",
                 text=f"passage {i}", start=0, end=len(f"passage {i}"), token_count=3,
                 jurisdiction=jurisdiction, doc_type=doc_type, as_of="2025-01-01",
                 source_url="https://example.org", completeness="full")


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


class Data:
    """N chunks over 4 jurisdictions x 3 doc types (skewed shares) and DOCS documents."""

    def __init__(self, seed: int = 15) -> None:
        rng = np.random.default_rng(seed)
        self.vectors = unit(rng.standard_normal((N, DIM)))
        self.queries = unit(rng.standard_normal((20, DIM)))
        js = rng.choice(len(JURISDICTIONS), N, p=[0.5, 0.3, 0.15, 0.05])
        ts = rng.choice(len(DOC_TYPES), N, p=[0.6, 0.25, 0.15])
        docs = rng.integers(0, DOCS, N)
        self.chunks = [make_chunk(i, JURISDICTIONS[j], DOC_TYPES[t], int(d))
                       for i, (j, t, d) in enumerate(zip(js, ts, docs))]
        self.ids = [c.chunk_id for c in self.chunks]

    def exact(self, q: np.ndarray, filters: Filters, k: int = K) -> list[tuple[str, float]]:
        """Numpy exact search, ties by chunk id, as the merge orders them."""
        allowed = [i for i, c in enumerate(self.chunks) if filters.allows(c)]
        scores = self.vectors[allowed] @ q
        ranked = sorted(zip((self.ids[i] for i in allowed), scores.tolist()), key=lambda h: (-h[1], h[0]))
        return ranked[:k]


@pytest.fixture(scope="module")
def data() -> Data:
    return Data()


@pytest.fixture(scope="module")
def loaded(data: Data, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, VectorStore]]:
    """Both layouts of the same chunks, in one embedded Chroma folder."""
    dense = DenseIndex(None, tmp_path_factory.mktemp("chroma"))
    stores = {"single": dense.store(NAME, partitioned=False, ef_search=EXHAUSTIVE),
              "partitioned": dense.store(NAME, partitioned=True, ef_search=EXHAUSTIVE)}
    for store in stores.values():
        store.upsert(data.chunks, data.vectors)
    yield stores
    stores["partitioned"].close()  # type: ignore[attr-defined]


FILTERS = {
    "none": Filters(),
    "one jurisdiction": Filters.of(jurisdictions=["US"]),
    "rare jurisdiction": Filters.of(jurisdictions=["Wassenaar"]),
    "two jurisdictions": Filters.of(jurisdictions=["UK", "Wassenaar"]),
    "one doc type": Filters.of(doc_types=["control_list"]),
    "jurisdiction and doc type": Filters.of(jurisdictions=["US"], doc_types=["control_list"]),
    "doc ids": Filters.of(doc_ids=["doc-3", "doc-7"]),
    "doc ids and jurisdiction": Filters.of(jurisdictions=["EU"], doc_ids=["doc-3"]),
}


@pytest.mark.parametrize("kind", list(FILTERS))
def test_partitioned_query_is_exact_search_over_the_allowed_chunks(
        data: Data, loaded: dict[str, VectorStore], kind: str) -> None:
    filters = FILTERS[kind]
    by_id = {c.chunk_id: c for c in data.chunks}
    store = loaded["partitioned"]
    for q in data.queries:
        got = store.query(q, K, filters)
        expected = data.exact(q, filters)
        assert all(filters.allows(by_id[cid]) for cid, _ in got)
        assert [cid for cid, _ in got] == [cid for cid, _ in expected]
        assert np.allclose([s for _, s in got], [s for _, s in expected], atol=1e-5)
        assert got == sorted(got, key=lambda h: (-h[1], h[0]))


def test_a_filter_reads_only_the_partitions_it_allows(loaded: dict[str, VectorStore]) -> None:
    store = loaded["partitioned"]
    assert isinstance(store, PartitionedCollections)
    names = {c.name for c in store.chosen(FILTERS["jurisdiction and doc type"])}
    assert names == {store.partition_name("US", "control_list")}
    assert len(store.chosen(FILTERS["two jurisdictions"])) == 2 * len(DOC_TYPES)
    assert len(store.chosen(FILTERS["none"])) == len(JURISDICTIONS) * len(DOC_TYPES)
    assert store.chosen(Filters.of(jurisdictions=["Atlantis"])) == []
    assert store.query(np.ones(DIM, dtype=np.float32), K, Filters.of(jurisdictions=["Atlantis"])) == []


def test_both_layouts_answer_alike(data: Data, loaded: dict[str, VectorStore]) -> None:
    """The `where` layout is the baseline the partitions replace: same hits, same order."""
    for filters in (FILTERS["none"], FILTERS["jurisdiction and doc type"], FILTERS["doc ids"]):
        for q in data.queries[:5]:
            single = loaded["single"].query(q, K, filters)
            partitioned = loaded["partitioned"].query(q, K, filters)
            assert [c for c, _ in single] == [c for c, _ in partitioned]


def test_parallel_queries_from_many_threads_agree_with_sequential_ones(
        data: Data, loaded: dict[str, VectorStore]) -> None:
    """A served reader queries one store from many request threads, each fanning out on the
    store's own pool: the shared Chroma client must give every thread its own answer."""
    store = loaded["partitioned"]
    jobs = [(q, f) for q in data.queries for f in (FILTERS["none"], FILTERS["one doc type"])]
    sequential = [store.query(q, K, f) for q, f in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda job: store.query(job[0], K, job[1]), jobs * 3))
    assert parallel == sequential * 3
    pool_threads = [t for t in threading.enumerate() if t.name.startswith("regqa-partitions")]
    assert 0 < len(pool_threads) <= 4


@pytest.mark.parametrize("partitioned", [False, True], ids=["single", "partitioned"])
def test_round_trips(tmp_path: Path, data: Data, partitioned: bool) -> None:
    dense = DenseIndex(None, tmp_path)
    store = dense.store("rt-index", partitioned=partitioned)
    chunks, vectors = data.chunks[:400], data.vectors[:400]
    store.upsert(chunks, vectors)
    ids = [c.chunk_id for c in chunks]
    assert store.count() == 400
    assert store.all_ids() == set(ids)
    assert store.existing_ids(ids[:50] + ["doc-0:missing"]) == set(ids[:50])
    got = store.get_vectors(ids[:30] + ["doc-0:missing"])
    assert set(got) == set(ids[:30])
    assert all(np.allclose(got[cid], vectors[i], atol=1e-6) for i, cid in enumerate(ids[:30]))
    # Upserting again replaces, it does not add.
    store.upsert(chunks[:100], unit(vectors[:100] + 0.5))
    assert store.count() == 400
    assert np.allclose(store.get_vectors([ids[0]])[ids[0]], unit(vectors[:1] + 0.5)[0], atol=1e-6)
    store.delete(ids[:150] + ["doc-0:missing"])
    assert store.count() == 250 and store.all_ids() == set(ids[150:])
    assert store.existing_ids(ids[:200]) == set(ids[150:200])
    assert all(cid in set(ids[150:]) for cid, _ in store.query(data.queries[0], K, Filters()))
    store.delete([])
    names = store.collection_names()
    if partitioned:
        assert len(names) == len({(c.jurisdiction, c.doc_type) for c in chunks}) + 1
        assert all(n.startswith("rt-index--p-") for n in names) and "rt-index--p-all" in names
    else:
        assert names == ["rt-index"]
    # The pipeline's single-collection API still works beside the stores.
    dense.upsert("legacy", chunks[:10], vectors[:10])
    assert dense.count("legacy") == 10 and dense.all_ids("legacy") == set(ids[:10])
    store.drop()
    assert store.collection_names() == [] and sorted(dense.collection_names()) == ["legacy"]
    assert store.count() == 0  # (a single collection is made again on first use, as before)


def test_a_chunk_whose_document_changed_jurisdiction_is_found_misplaced(tmp_path: Path, data: Data) -> None:
    """Chunk ids do not depend on a document's jurisdiction or type: the indexer would think the
    vector present while it sits in the old partition (or carries the old `where` metadata)."""
    chunks, vectors = data.chunks[:60], data.vectors[:60]
    moved = [c.model_copy(update={"jurisdiction": "EU" if c.jurisdiction != "EU" else "UK"}) for c in chunks[:5]]
    for partitioned in (False, True):
        store = DenseIndex(None, tmp_path).store(f"moved-{partitioned}", partitioned=partitioned)
        store.upsert(chunks, vectors)
        assert store.misplaced(chunks) == set()
        now = moved + chunks[5:]
        stale = store.misplaced(now)
        assert stale == {c.chunk_id for c in moved}
        store.delete(stale)
        store.upsert(moved, vectors[:5])
        assert store.misplaced(now) == set() and store.count() == 60
        hits = store.query(vectors[0], 3, Filters.of(jurisdictions=[moved[0].jurisdiction]))
        assert hits[0][0] == moved[0].chunk_id


AWKWARD = ["US", "us", "U.S.", "U S", "", " ", "-", "..", "_", "Wassenaar Arrangement", "Wassenaar-Arrangement",
           "EU/2021/821", "Côte d'Ivoire", "Cote d'Ivoire", "中华人民共和国", "日本", "🇪🇺", "a" * 600,
           "a" * 600 + "b", "x" * 40 + "-tail", "x" * 40 + "_tail", "control_list", "control-list", "Control List"]


def test_unfiltered_queries_ask_the_whole_collection_once_it_holds_every_vector(
        tmp_path: Path, data: Data, monkeypatch: pytest.MonkeyPatch) -> None:
    """One request instead of a round trip per partition; a partition filter still reads only
    its partitions. An index without the whole collection (written before it existed) answers
    by fan-out, is reported incomplete, and is whole again after the next upsert."""
    import indexer.dense as dense_module

    asked: list[str] = []
    real = dense_module._query
    monkeypatch.setattr(dense_module, "_query", lambda collection, **kw: asked.append(collection.name)
                        or real(collection, **kw))
    dense = DenseIndex(None, tmp_path)
    store = dense.store("w", partitioned=True, ef_search=EXHAUSTIVE)
    assert isinstance(store, PartitionedCollections)
    chunks, vectors = data.chunks[:600], data.vectors[:600]
    store.upsert(chunks, vectors)
    assert store.whole_collection() is not None
    subset = Data.__new__(Data)
    subset.chunks, subset.vectors, subset.ids = chunks, vectors, data.ids[:600]
    for filters, reads in ((FILTERS["none"], {store.whole_name}),
                           (Filters.of(jurisdictions=list(JURISDICTIONS)), {store.whole_name}),
                           (FILTERS["jurisdiction and doc type"], {store.partition_name("US", "control_list")}),
                           (FILTERS["doc ids"], {c.name for c in store.chosen(None)})):
        asked.clear()
        assert [c for c, _ in store.query(data.queries[0], K, filters)] == \
            [c for c, _ in subset.exact(data.queries[0], filters)]
        assert set(asked) == reads, filters

    dense.drop(store.whole_name)
    old = dense.store("w", partitioned=True)
    assert old.whole_collection() is None  # type: ignore[attr-defined]
    assert old.existing_ids(subset.ids) == set() and old.all_ids() == set(subset.ids)
    asked.clear()
    assert [c for c, _ in old.query(data.queries[0], K, Filters())] == \
        [c for c, _ in subset.exact(data.queries[0], Filters())]
    assert len(asked) == len(old.chosen(None)) > 1
    old.upsert(chunks[:300], vectors[:300])
    assert old.whole_collection() is None  # lags the partitions: still the fan-out
    old.upsert(chunks[300:], vectors[300:])
    assert old.whole_collection() is not None and old.existing_ids(subset.ids) == set(subset.ids)
    old.close()
    store.close()


def test_partition_names_are_valid_and_distinct() -> None:
    store = PartitionedCollections(client=None, name="regqa-chunks-all-minilm")
    names: dict[str, tuple[str, str]] = {}
    for j in AWKWARD:
        for t in AWKWARD:
            name = store.partition_name(j, t)
            assert CHROMA_NAME.match(name) and ".." not in name, name
            assert names.setdefault(name, (j, t)) == (j, t), f"{(j, t)} and {names[name]} share {name}"
    assert len({slug(v) for v in AWKWARD}) == len(AWKWARD)
    assert store.partition_name("US", "control_list").startswith("regqa-chunks-all-minilm--p-us_")


def test_awkward_values_make_real_partitions(tmp_path: Path, data: Data) -> None:
    """Chroma itself accepts the names, and the real values come back from its metadata."""
    pairs = [("Côte d'Ivoire", "régulation"), ("中华人民共和国", "control list"), ("a" * 600, "guidance"),
             ("U.S.", "regulation"), ("US", "regulation"), ("", "")]
    chunks = [make_chunk(i, j, t, 0) for i, (j, t) in enumerate(pairs)]
    dense = DenseIndex(None, tmp_path)
    store = dense.store("awk", partitioned=True)
    store.upsert(chunks, data.vectors[: len(pairs)])
    assert isinstance(store, PartitionedCollections)
    assert set(store.partitions) == set(pairs)
    again = dense.store("awk", partitioned=True)  # a new object discovers them by listing
    assert set(again.partitions) == set(pairs)  # type: ignore[attr-defined]
    hits = again.query(data.vectors[1], 5, Filters.of(jurisdictions=["中华人民共和国"]))
    assert [cid for cid, _ in hits] == [chunks[1].chunk_id]
    again.drop()
    assert again.collection_names() == [] and [n for n in dense.collection_names() if n.startswith("awk")] == []


def test_drop_removes_partitions_made_by_another_store_object(tmp_path: Path, data: Data) -> None:
    dense = DenseIndex(None, tmp_path)
    first = dense.store("idx", partitioned=True)
    first.upsert(data.chunks[:100], data.vectors[:100])
    other = dense.store("idx", partitioned=True)
    assert other.count() == 100
    first.upsert([make_chunk(99999, "Atlantis", "guidance", 0)], data.vectors[:1])  # unseen by `other`
    dense.upsert("idx", data.chunks[:5], data.vectors[:5])  # the single collection of that name stays
    dense.store("idx-other", partitioned=True).upsert(data.chunks[:5], data.vectors[:5])
    other.drop()
    assert other.count() == 0 and other.collection_names() == []
    assert not [n for n in dense.collection_names() if n.startswith("idx--p-")]
    assert dense.count("idx") == 5 and dense.store("idx-other", partitioned=True).count() == 5


@pytest.mark.slow
@pytest.mark.server
def test_partitions_on_a_chroma_server(chroma_server: str, tmp_path: Path, data: Data) -> None:  # noqa: F811
    dense = DenseIndex(chroma_server, tmp_path / "unused")
    store = dense.store(NAME, partitioned=True, ef_search=EXHAUSTIVE)
    store.upsert(data.chunks[:1000], data.vectors[:1000])
    subset = Data.__new__(Data)
    subset.chunks, subset.vectors, subset.ids = data.chunks[:1000], data.vectors[:1000], data.ids[:1000]
    for filters in (FILTERS["none"], FILTERS["jurisdiction and doc type"], FILTERS["doc ids"]):
        for q in data.queries[:5]:
            assert [c for c, _ in store.query(q, K, filters)] == [c for c, _ in subset.exact(q, filters)]
    assert store.count() == 1000 and len(store.get_vectors(data.ids[:10])) == 10
    store.delete(data.ids[:10])
    assert store.all_ids() == set(data.ids[10:1000])
    store.drop()
    assert dense.collection_names() == []
    assert not (tmp_path / "unused").exists()
