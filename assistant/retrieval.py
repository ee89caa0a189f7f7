"""Hybrid retrieval: exact legal references first, then dense (Chroma) and BM25 hits fused by
reciprocal rank fusion, kept diverse, and merged per citable unit for the answerer."""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.vocabulary import expand, facets
from assistant.references import Reference, find_references, normalise, relation
from indexer.reader import Filters, IndexReader, Snapshot
from indexer.records import Chunk

RRF_K = 60
FACET_WEIGHT = 0.5
# Primary law first: guidance, statements and reports rank a little below at equal relevance.
AUTHORITY = {"regulation": 1.0, "control_list": 1.0, "guidance": 0.85, "statement": 0.8, "report": 0.8}


@dataclass
class Hit:
    chunk: Chunk
    score: float
    dense: float | None = None  # cosine similarity to the question
    exact: int | None = None  # relation to a named reference (0 the unit, 1 sub-unit, 2 parent)


@dataclass
class Passage:
    """One citable unit's retrieved chunks, in document order."""

    chunks: list[Chunk]
    score: float
    dense: float | None
    exact: bool

    @property
    def first(self) -> Chunk:
        return self.chunks[0]

    @property
    def text(self) -> str:
        return "\n\n".join(c.text for c in self.chunks)


@dataclass
class SearchResult:
    query: str
    hits: list[Hit]
    references: list[Reference]
    unresolved: list[Reference]
    snapshot: Snapshot
    vector: np.ndarray
    best_dense: float = 0.0
    passages: list[Passage] = field(default_factory=list)


class QueryEmbedder:
    """Embeds questions once each: a small LRU cache in front of the model."""

    def __init__(self, embedder: Any, size: int = 2048) -> None:  # noqa: ANN401 - any .encode()
        self.embedder = embedder
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._size = size

    def __call__(self, text: str) -> np.ndarray:
        vector = self._cache.get(text)
        if vector is not None:
            self._cache.move_to_end(text)
            return vector
        vector = np.asarray(self.embedder.encode([text])[0], dtype=np.float32)
        self._cache[text] = vector
        if len(self._cache) > self._size:
            self._cache.popitem(last=False)
        return vector

    def many(self, texts: list[str]) -> np.ndarray:
        # One text per call: with int8 weights, activations are quantised per batch, so a
        # question's vector would depend on which other texts shared its batch (and on what the
        # cache held). Short queries alone are no slower than padded together.
        for text in dict.fromkeys(texts):
            self(text)
        return np.vstack([self._cache[t] for t in texts]) if texts else np.zeros((0, 0), np.float32)


class HybridRetriever:
    def __init__(self, reader: IndexReader, embed: QueryEmbedder, *, candidates: int = 40,
                 per_section: int = 2, per_document: int = 4, max_facets: int = 4) -> None:
        self.reader = reader
        self.embed = embed
        self.candidates = candidates
        self.per_section = per_section
        self.per_document = per_document
        self.max_facets = max_facets
        self._sections: tuple[str, dict[str, list[Chunk]]] | None = None

    def search(self, query: str, filters: Filters | None = None, k: int = 8) -> SearchResult:
        filters = filters or Filters()
        snapshot = self.reader.snapshot()
        vector = self.embed(query)
        references = find_references(query)
        exact, unresolved = self._resolve(snapshot, references, filters)

        mask = snapshot.mask(filters)
        dense = self.reader.dense_search(snapshot, vector, self.candidates, filters)
        sparse = snapshot.sparse.search(expand(query), self.candidates, mask)
        dense_sim = dict(dense)
        rankings: list[tuple[float, list[str]]] = [
            (1.0, [cid for cid, _ in dense]), (1.0, [cid for cid, _ in sparse])]
        # Each topic of the question retrieves on its own too, at a lower weight.
        for facet in facets(query)[: self.max_facets]:
            facet_dense = self.reader.dense_search(snapshot, self.embed(facet), self.candidates // 2, filters)
            facet_sparse = snapshot.sparse.search(facet, self.candidates // 2, mask)
            rankings += [(FACET_WEIGHT, [cid for cid, _ in facet_dense]),
                         (FACET_WEIGHT, [cid for cid, _ in facet_sparse])]
        # Fuse per citable unit (§ 742.7, not each of its paragraphs), so a finely divided
        # section does not lose to an undivided one; chunks then order within their unit.
        unit_score: dict[tuple[str, str], float] = {}
        chunk_score: dict[str, float] = {}
        unit_chunk: dict[tuple[str, str], str] = {}
        for weight, ranking in rankings:
            seen: set[tuple[str, str]] = set()
            for rank, chunk_id in enumerate(ranking):
                chunk_score[chunk_id] = chunk_score.get(chunk_id, 0.0) + weight / (RRF_K + rank + 1)
                unit = unit_of(snapshot.by_id[chunk_id])
                unit_chunk.setdefault(unit, chunk_id)
                if unit not in seen:
                    unit_score[unit] = unit_score.get(unit, 0.0) + weight / (RRF_K + len(seen) + 1)
                    seen.add(unit)
        # Binding text before commentary on it, at otherwise equal rank.
        for unit in unit_score:
            unit_score[unit] *= AUTHORITY.get(snapshot.by_id[unit_chunk[unit]].doc_type, 0.9)
        # Named references outrank everything fuzzy: the unit itself, then its parts, then its parent.
        for order, (chunk, rel) in enumerate(exact):
            chunk_score[chunk.chunk_id] = 10.0 - rel - order * 1e-3
            unit = unit_of(chunk)
            unit_score[unit] = max(unit_score.get(unit, 0.0), 10.0 - rel - order * 1e-3)
        exact_rel = {c.chunk_id: rel for c, rel in exact}
        ranked = sorted(
            ((cid, unit_score[unit_of(snapshot.by_id[cid])], score) for cid, score in chunk_score.items()),
            key=lambda item: (-item[1], -item[2]),
        )
        ranked = [(cid, unit) for cid, unit, _ in ranked]

        hits = self._diverse(
            [Hit(snapshot.by_id[cid], score, dense_sim.get(cid), exact_rel.get(cid)) for cid, score in ranked],
            k,
        )
        hits = self._with_lead_ins(snapshot, hits)
        missing = [h.chunk.chunk_id for h in hits if h.dense is None]
        if missing:
            found = self._similarities(snapshot, vector, missing)
            for hit in hits:
                if hit.dense is None:
                    hit.dense = found.get(hit.chunk.chunk_id)
        # How close the nearest passage is to the question itself: the relevance signal.
        best = max([sim for _, sim in dense[:1]] + [h.dense for h in hits if h.dense is not None], default=0.0)
        return SearchResult(query, hits, references, unresolved, snapshot, vector, best, merge_units(hits))

    # -- pieces ------------------------------------------------------------------------------

    def _resolve(self, snapshot: Snapshot, references: list[Reference],
                 filters: Filters) -> tuple[list[tuple[Chunk, int]], list[Reference]]:
        if not references:
            return [], []
        sections = self._section_index(snapshot)
        found: list[tuple[Chunk, int]] = []
        unresolved: list[Reference] = []
        for ref in references:
            matches: list[tuple[int, Chunk]] = []
            for label, chunks in sections.items():
                rel = relation(label, ref)
                if rel is not None:
                    matches.extend((rel, c) for c in chunks if filters.allows(c))
            if not matches:
                unresolved.append(ref)
                continue
            matches.sort(key=lambda m: (m[0], m[1].doc_id, m[1].ordinal))
            found.extend((c, rel) for rel, c in matches[:6])
        return found, unresolved

    def _section_index(self, snapshot: Snapshot) -> dict[str, list[Chunk]]:
        generation = snapshot.manifest.generation
        if self._sections is None or self._sections[0] != generation:
            index: dict[str, list[Chunk]] = {}
            for chunk in snapshot.chunks:
                index.setdefault(normalise(chunk.section), []).append(chunk)
            self._sections = (generation, index)
        return self._sections[1]

    def _similarities(self, snapshot: Snapshot, vector: np.ndarray, chunk_ids: list[str]) -> dict[str, float]:
        if snapshot.vectors is not None:
            return {cid: float(snapshot.vectors[snapshot.positions[cid]] @ vector) for cid in chunk_ids}
        collection = self.reader.dense.collection(snapshot.manifest.collection)
        got = collection.get(ids=chunk_ids, include=["embeddings"])
        return {cid: float(np.dot(vector, np.asarray(emb))) for cid, emb in zip(got["ids"], got["embeddings"])}

    @staticmethod
    def _with_lead_ins(snapshot: Snapshot, hits: list[Hit]) -> list[Hit]:
        have = {h.chunk.chunk_id for h in hits}
        result: list[Hit] = []
        for hit in hits:
            parent = lead_in(snapshot, hit.chunk)
            if parent is not None and parent.chunk_id not in have:
                have.add(parent.chunk_id)
                result.append(Hit(parent, hit.score, None, None))
            result.append(hit)
        return result

    def _diverse(self, hits: list[Hit], k: int) -> list[Hit]:
        """Pick whole units, not chunks: first the best units of each jurisdiction (from
        different documents), then the rest by rank; at most a few chunks per unit and per
        document, unless the question named them."""
        units: dict[tuple[str, str], list[Hit]] = {}
        for hit in hits:
            units.setdefault(unit_of(hit.chunk), []).append(hit)
        order = list(units)
        chosen: list[tuple[str, str]] = []
        per_doc: dict[str, int] = {}
        size = 0

        def cost(unit: tuple[str, str]) -> int:
            group = units[unit]
            return len(group) if group[0].exact is not None else min(len(group), self.per_section)

        def take(unit: tuple[str, str]) -> None:
            nonlocal size
            chosen.append(unit)
            per_doc[unit[0]] = per_doc.get(unit[0], 0) + cost(unit)
            size += cost(unit)

        for unit in order:  # named references first, whatever they cost
            if units[unit][0].exact is not None:
                take(unit)
        quota: dict[str, list[str]] = {}
        for unit in order[: k * 3]:
            jurisdiction = units[unit][0].chunk.jurisdiction
            docs = quota.setdefault(jurisdiction, [])
            if unit in chosen or len(docs) >= 2 or unit[0] in docs or size >= k * 0.7:
                continue
            docs.append(unit[0])
            take(unit)
        doc_cap = max(self.per_document, math.ceil(k / 2))
        for unit in order:
            if size >= k:
                break
            if unit in chosen or per_doc.get(unit[0], 0) >= doc_cap:
                continue
            take(unit)
        chosen.sort(key=order.index)
        result: list[Hit] = []
        for unit in chosen:
            group = units[unit]
            result.extend(group if group[0].exact is not None else group[: self.per_section])
        return result


_PARAGRAPHED = re.compile(r"^((?:§ \d+\.\d+[a-z]?|Article \d+[a-z]?))\(")


def unit_of(chunk: Chunk) -> tuple[str, str]:
    """The citable unit a chunk belongs to for ranking: `§ 742.7(a)(1)` counts as `§ 742.7`,
    `Article 5(2)` as `Article 5`; `Recital (2)` or `5A001.j` stand as they are."""
    match = _PARAGRAPHED.match(chunk.section)
    return chunk.doc_id, match.group(1) if match else chunk.section


def lead_in(snapshot: Snapshot, chunk: Chunk) -> Chunk | None:
    """Where a unit states its rule: the top-level paragraph of a CFR sub-paragraph (`§ 742.7(a)`
    for `§ 742.7(a)(1)`), or the first chunk of a long entry (the heading of ECCN 6A003)."""
    match = re.match(r"^(§ \d+\.\d+[a-z]?\([a-z]+\))\(", chunk.section)
    section = match.group(1) if match else chunk.section
    first = next((c for c in snapshot.by_doc[chunk.doc_id] if c.section == section), None)
    return first if first is not None and first.chunk_id != chunk.chunk_id else None


def merge_units(hits: list[Hit]) -> list[Passage]:
    """Group hits by citable unit (`§ 742.7` with its paragraphs), best unit first."""
    units: dict[tuple[str, str], Passage] = {}
    for hit in hits:
        key = unit_of(hit.chunk)
        passage = units.get(key)
        if passage is None:
            units[key] = Passage([hit.chunk], hit.score, hit.dense, hit.exact is not None)
        else:
            passage.chunks.append(hit.chunk)
            passage.chunks.sort(key=lambda c: c.ordinal)
            passage.score = max(passage.score, hit.score)
            if hit.dense is not None:
                passage.dense = max(passage.dense or hit.dense, hit.dense)
            passage.exact = passage.exact or hit.exact is not None
    return list(units.values())


class RegQARetriever(BaseRetriever):
    """The hybrid retriever as a LangChain retriever, for use in any LangChain chain."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    hybrid: HybridRetriever
    k: int = 8
    filters: Filters = Filters()

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        result = self.hybrid.search(query, self.filters, self.k)
        return [
            Document(
                page_content=hit.chunk.text,
                id=hit.chunk.chunk_id,
                metadata={
                    **hit.chunk.model_dump(exclude={"text", "context"}),
                    "score": hit.score,
                    "similarity": hit.dense,
                    "exact_reference": hit.exact is not None,
                },
            )
            for hit in result.hits
        ]
