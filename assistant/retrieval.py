"""Hybrid retrieval: exact legal references first, then dense (Chroma) and BM25 hits fused by
reciprocal rank fusion, kept diverse, and merged per citable unit for the answerer."""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from assistant.references import (LICENCE_EXCEPTION_CODE, Reference, find_references, names_instrument, normalise,
                                  relation)
from assistant.bundled import RECORDED_MISSING_CODES, not_bundled
from assistant.definitions import DefinedTerms
from assistant.entry_notes import EXCLUDES, exclusion_notes
from assistant.list_rules import list_provisions
from assistant.query_adapter import QueryAdapter
from assistant.rerank import (FEATURES, Candidates, ChunkFacts, Coverage, LearnedFusion, asks_exception,
                              candidate_features, list_codes, names_item, states_rule)
from assistant.sentences import content_terms
from assistant.superseded import drop_superseded
from assistant.titles import TitleIndex
from assistant.vocabulary import expand, facets
from indexer.labels import inline_items, parent_label
from indexer.reader import Filters, IndexReader, Snapshot
from indexer.records import Chunk
from indexer.sparse import covered_share

RRF_K = 60
FUSION = Path(__file__).with_name("fusion.json")
# Primary law first: guidance, statements and reports rank a little below at equal relevance.
AUTHORITY = {"regulation": 1.0, "control_list": 1.0, "guidance": 0.85, "statement": 0.8, "report": 0.8}


@dataclass
class Hit:
    chunk: Chunk
    score: float
    dense: float | None = None  # cosine to the model's own question vector (not the adapted one)
    exact: int | None = None  # relation to a named reference (0 the unit, 1 sub-unit, 2 parent)


@dataclass
class Passage:
    """One citable unit's retrieved chunks, in document order."""

    chunks: list[Chunk]
    score: float
    dense: float | None
    exact: bool
    # Each chunk's own retrieval score (by chunk id): which paragraph of the unit answers.
    chunk_scores: dict[str, float] = field(default_factory=dict)

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
    # The chunks defining the term a definition question asks about (and the sections a pointer
    # definition names), best first: evidence selection may cite them alone.
    defining: list[str] = field(default_factory=list)


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


@dataclass(frozen=True)
class Fusion:
    """Weights of the ranking signals in reciprocal rank fusion. Chosen by cross-validation
    on the dev set (`python -m evals.tune`), stored in assistant/fusion.json; never per question."""

    dense: float = 1.0
    body: float = 1.0
    title: float = 1.0
    facet: float = 0.5
    candidates: int = 100
    per_parent: int = 3  # distinct paragraphs of one section among the top units
    # Score factor for units of other jurisdictions when the question names exactly one
    # ("under US export rules…"): the EU camera entries are not the answer there.
    other_jurisdiction: float = 1.0
    # When set, one logistic model over all signals (assistant/rerank.py) replaces the weighted
    # reciprocal rank fusion above; the weights then only matter for the ablation.
    learned: LearnedFusion | None = None

    @classmethod
    def load(cls, path: Path = FUSION, *, strict: bool = True) -> Fusion:
        """The tuned weights and learned model; `strict=False` (for retraining) skips a learned
        model whose features are not the code's."""
        fusion = tuned(cls, "weights", path)
        data = json.loads(path.read_text(encoding="utf-8")).get("learned") if path.exists() else None
        if not data or (not strict and tuple(data.get("features", ())) != FEATURES):
            return fusion
        return replace(fusion, learned=LearnedFusion.from_dict(data))


def tuned(cls: type, section: str, path: Path = FUSION):  # noqa: ANN201 - an instance of cls
    """A settings dataclass from its section of the tuned-values file (defaults where absent)."""
    if not path.exists():
        return cls()
    data = json.loads(path.read_text(encoding="utf-8")).get(section, {})
    return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


@dataclass
class Signals:
    """One question's rankings per signal: dense (chunk id, similarity) and body (chunk id, BM25
    score) best first; title and facets (chunk id, rank)."""

    dense: list[tuple[str, float]]
    body: list[tuple[str, float]]
    title: list[tuple[str, int]]
    facets: list[list[tuple[str, int]]]
    title_score: dict[str, float] = field(default_factory=dict)  # the heading's BM25 score
    # Dense search with the model's own question vector (without the query adapter; the same
    # list as `dense` when there is no adapter). The adapter helps most questions and hurts some
    # kinds: the fusion sees both and learns when to trust which. Its cosines also calibrate
    # "is this in the corpus at all" (the adapted ones are flatter).
    raw: list[tuple[str, float]] = field(default_factory=list)


# The EAR's licence exceptions by their codes ("us TMP vs eu EU004"): those its texts know
# (`named_exception_codes`; a test keeps the two equal). Not APP, which is also the Wassenaar
# List's "Adjusted Peak Performance".
EAR_EXCEPTION_CODES = ("ACA", "ACE", "ACM", "AGR", "AIA", "APR", "AVS", "BAG", "CCD", "ENC", "GBS", "GFT", "GOV", "HBM",
                       "IEC", "LPP", "LVS", "MED", "NAC", "RFF", "RPL", "SCP", "STA", "TMP", "TSR", "TSU", "WRC")
# A jurisdiction is named by its name and by its own institutions and licence types: the UK's
# ECJU, SIEL and OGEL, HMRC and the Department for Business and Trade; the US's license
# exceptions and Entity List; Germany's BAFA for the EU.
_JURISDICTION_WORDS = {
    # "U.S." ends in a full stop, after which there is no word boundary before a space.
    # Chat is often lower case: "uk exporter here", "under the eu reg" ("us" is a pronoun).
    "EU": re.compile(r"\b((?i:eu)|European|Union|(?i:member states?)|2021/821|Brussels|BAFA|EU00\d)\b|\bE\.U\.(?!\w)"),
    "US": re.compile(r"\b(US|USA|United States|American|EAR|EAR99|BIS|CFR|ECCN|Commerce|ECRA|SNAP-R"
                     r"|(?i:license exceptions?)|(?i:entity list)|" + "|".join(EAR_EXCEPTION_CODES) + r")\b|\bU\.S\.(?!\w)"),
    "UK": re.compile(r"\bU\.K\.(?!\w)|\b((?i:uk)|United Kingdom|British|Britain|Export Control Order|ECJU|Export Control Joint Unit"
                     r"|SIELs?|OIELs?|OGELs?|HMRC|DBT|Department for Business and Trade|(?i:open general (?:export )?licen[cs]es?))\b"),
    "Wassenaar": re.compile(r"\bWassenaar\b", re.I),
}


# A named unit pins its first paragraphs; a named control-list entry also up to PINNED_NOTES
# paragraphs whose notes exclude items from it (assistant/entry_notes.py).
PINNED_CHUNKS = 6
PINNED_NOTES = 3


# A definition whose whole text is a pointer: "*Fundamental research.* See § 734.8 of the EAR."
_POINTER = re.compile(r"^[*“\"]*[^.*]{1,60}\.?[*”\"]*\.?\s+(See (?:§|§§|part)\s*[^.]{1,40}?(?:\.\d+[^.\s]*)*"
                      r"(?: of the EAR)?)\.$", re.I)


_ASKS_DURATION = re.compile(r"\bhow long\b|\bhow many (?:calendar |business |working )?(?:days|weeks|months|years)\b"
                            r"|\bby when\b|\bdeadlines?\b|\btime limits?\b|\bhow soon\b|\bhow quickly\b", re.I)
_DURATION = re.compile(r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|twenty|thirty|"
                       r"forty(?:-five)?|sixty|ninety)[- ](?:\(\d+\) )?(?:calendar |business |working )?"
                       r"(?:days?|weeks?|months?|years?)\b", re.I)
# How much a period stated in a paragraph weighs for a question that asks for one: enough to
# order the paragraphs of one section, not to bring in a section the other signals did not.
DURATION_BOOST = 1.5


def asks_duration(question: str) -> bool:
    return bool(_ASKS_DURATION.search(question))


def states_duration(text: str) -> bool:
    return bool(_DURATION.search(text))


def jurisdictions_named(question: str) -> list[str]:
    return [name for name, pattern in _JURISDICTION_WORDS.items() if pattern.search(question)]


_LICENCE_QUESTION = re.compile(
    r"\b(?:need|needs|require[sd]?|required)\b[^?]{0,60}\b(?:licen[cs]e|authori[sz]ation|permit)\b"
    r"|\b(?:licen[cs]e|authori[sz]ation|permit)\b[^?]{0,40}\b(?:needed|required|necessary)\b"
    r"|\b(?:can|may) (?:we|i) (?:export|ship|sell)\b", re.I)


def licence_question(question: str) -> bool:
    """Does the question ask whether a licence (authorisation, permit) is needed?"""
    return bool(_LICENCE_QUESTION.search(question))


def jurisdictions_for(question: str) -> list[str]:
    """The jurisdictions an answer should cover: those the question names; for a licence
    question that names none, the EU and the US — a compliance officer needs each one's rule."""
    named = jurisdictions_named(question)
    if not named and licence_question(question):
        return ["EU", "US"]
    return named


class HybridRetriever:
    def __init__(self, reader: IndexReader, embed: QueryEmbedder, *, fusion: Fusion | None = None,
                 max_facets: int = 4) -> None:
        self.reader = reader
        self.embed = embed
        self.fusion = fusion or Fusion.load()
        # Moves a question's vector towards the law's wording (dense search only; scope and
        # sentence checks see the model's own vectors). None for another model's vectors.
        self.adapter: QueryAdapter | None = QueryAdapter.for_embedder(
            getattr(getattr(embed, "embedder", None), "identity", None))
        self.max_facets = max_facets
        # Structures derived from one index generation (title index, parents, labels, …), by
        # name: (generation, value); rebuilt when a new generation is served.
        self._signal_cache: OrderedDict[tuple, Signals] = OrderedDict()
        self._facet_vectors: dict[tuple[str, str | None], np.ndarray] = {}

    def search(self, query: str, filters: Filters | None = None, k: int = 8,
               fusion: Fusion | None = None) -> SearchResult:
        filters = filters or Filters()
        fusion = fusion or self.fusion
        snapshot = self.reader.snapshot()
        vector = self.embed(query)  # the model's own: hits carry its cosines (see Signals.raw)
        references = find_references(query)
        signals = self.signals(snapshot, query, filters, fusion.candidates)
        dense_sim = dict(signals.raw)
        if fusion.learned is not None:
            found = self.candidates(snapshot, query, signals)
            chunk_score = dict(zip(found.ids, fusion.learned.score(found.matrix).tolist()))
        else:
            chunk_score = _rrf(snapshot, signals, fusion, jurisdictions_named(query))
        exact, unresolved = self._resolve(snapshot, references, filters, chunk_score)
        # "Can we ship our IMSI catcher (5A001.f.1) to …?": the code says what the item is; the
        # entry is not pinned above the rule that decides (it still competes on its evidence).
        # A code that names nothing is still a false premise (`unresolved`).
        if names_item(query):
            exact = [(chunk, rel) for chunk, rel in exact if chunk.doc_type != "control_list"]
        drop_superseded(chunk_score, snapshot.by_id)  # an older instrument's copy of a newer text
        # A source note ("[61 FR 12768, …]") or a bare amendment notice answers nothing: it takes
        # no ranking slot, also when its section is named.
        notes: set[str] = snapshot.derive("provenance", lambda: {c.chunk_id for c in snapshot.chunks
                                                                 if provenance_only(c.text)})
        for cid in notes & chunk_score.keys():
            del chunk_score[cid]
        exact = [(chunk, rel) for chunk, rel in exact if chunk.chunk_id not in notes]
        # "How long do we have to appeal?": the paragraph that states a period ("not later than 45
        # days") answers, not its section's other paragraphs on the same subject.
        if asks_duration(query):
            stated: dict[str, bool] = snapshot.derive("durations", dict)  # memo per chunk
            for cid in chunk_score:
                if cid not in stated:
                    stated[cid] = states_duration(snapshot.by_id[cid].text)
                if stated[cid]:
                    chunk_score[cid] *= DURATION_BOOST
        # "License Exception TSU" names § 740.13, whose heading defines (TSU): its opening paragraph
        # ranks first. Not an exact reference: its paragraphs still compete on their evidence, and
        # a question about what the section does not hold can still be declined.
        _rank_first(chunk_score, self._defined_by_code(snapshot, references, chunk_score,
                                                     asks_only_for(query, references)))
        # "What are 'dual-use items' under Regulation (EU) 2021/821?": the chunk that defines the
        # term ranks first, the same way (one per jurisdiction the question names, else the
        # best-scored definition), still competing on evidence below it.
        definitions = self._defining(snapshot, query, chunk_score, filters)
        # A definition that only points elsewhere ("*Published.* See § 734.7 of the EAR.") is
        # answered by the section it points to, ranked above it; a section the bundled copy
        # leaves out (§ 734.8) is a gap the answer names, as if the question had named it.
        targets, gaps = self._pointed_to(snapshot, definitions, filters)
        definitions = targets + definitions
        unresolved += [gap for gap in gaps if gap not in unresolved]
        _rank_first(chunk_score, definitions)
        # A named unit and its parts rank above everything else. Among themselves, on their
        # evidence when the question says more than the name: "Is a QoS-only DPI platform caught
        # by 5A001.j?" is answered by the entry's Note, not by its heading; "Explain 5A001.j" by
        # the entry itself, then its parts in document order (which also breaks ties).
        by_evidence = not asks_only_for(query, references)
        exact_rel: dict[str, int] = {}
        for order, (chunk, rel) in enumerate(exact):
            own = chunk_score.get(chunk.chunk_id, 0.0) if by_evidence else -float(rel)
            chunk_score[chunk.chunk_id] = PINNED + own - order * 1e-6
            exact_rel[chunk.chunk_id] = rel
        # "5A001.j and 5D001.e search on 'hard selectors' — what counts as a hard selector?": the
        # entries are where the term was met; the definition asked for answers, above them.
        if definitions and exact_rel:
            top = max(chunk_score[cid] for cid in exact_rel)
            for order, cid in enumerate(definitions):
                chunk_score[cid] = top + 1e-3 * (len(definitions) - order)

        # "Do stun batons need a licence for Canada?": the entry that ranks first (ECCN 0A503) says
        # what the item is; the CCL bundled here has no License Requirements sections, so what
        # decides is the rule that names the entry's code (§ 742.7(a)(4)). It ranks right after.
        # Not for a question about licence exceptions ("can we hand-carry it under BAG?"): the
        # exception's own conditions answer it.
        if (licence_question(query) or names_item(query)) and not asks_exception(query, exception_codes(snapshot)):
            self._rank_entry_rule(snapshot, chunk_score, vector)
            # "… targeting software that is on the UK Military List": the article that requires a
            # licence for what that list holds (assistant/list_rules.py) ranks first.
            labels = _labels(snapshot)
            _rank_first(chunk_score, [snapshot.by_doc[doc][labels[doc, label][0]].chunk_id
                                      for doc, label in list_provisions(query) if (doc, label) in labels])
        units = self._rank_units(snapshot, chunk_score, query, k, fusion)
        hits: list[Hit] = []
        for key in units:
            # Every paragraph of the unit that a signal found, best first: a long unit (EU004,
            # an ECCN) answers in its third or fifth paragraph as often as in its first two.
            # Keeping only the best two lowered recall@10 on every set measured (frozen 0.800
            # against 0.783) and changed almost no answer.
            group = sorted(units[key], key=lambda cid: -chunk_score[cid])
            hits += [Hit(snapshot.by_id[cid], chunk_score[cid], dense_sim.get(cid), exact_rel.get(cid))
                     for cid in group]
        missing = [h.chunk.chunk_id for h in hits if h.dense is None]
        if missing:
            found = self._similarities(snapshot, vector, missing)
            for hit in hits:
                if hit.dense is None:
                    hit.dense = found.get(hit.chunk.chunk_id)
        best = max([h.dense for h in hits if h.dense is not None], default=0.0)
        passages = merge_units(hits)
        # Lead-ins (the paragraph that states a sub-paragraph's rule, an entry's heading) come
        # last: the composer may quote them beside their part, but they take no ranking slot.
        hits = self._with_lead_ins(snapshot, hits)
        return SearchResult(query, hits, references, unresolved, snapshot, vector, best, passages, definitions)

    def _rank_entry_rule(self, snapshot: Snapshot, chunk_score: dict[str, float], vector: np.ndarray) -> None:
        """When a control-list entry ranks first, the best-scored passage of its own jurisdiction
        that names the entry's code and states a rule ranks second (the closest by dense
        similarity when no signal returned one)."""
        if not chunk_score:
            return
        top = max(chunk_score, key=chunk_score.__getitem__)
        entry = snapshot.by_id[top]
        if entry.doc_type != "control_list":
            return
        naming: dict[str, list[str]] = snapshot.derive("rules-by-code", lambda: _rules_by_code(snapshot.chunks))
        ids = sorted({cid for code in list_codes(entry.section) for cid in naming.get(code, ())
                      if snapshot.by_id[cid].jurisdiction == entry.jurisdiction})
        scored = {cid: chunk_score[cid] for cid in ids if cid in chunk_score} or self._similarities(snapshot, vector, ids)
        if not scored:
            return
        best = max(scored, key=scored.__getitem__)
        chunk_score[best] = max(chunk_score.get(best, 0.0), chunk_score[top] - 1e-6)

    def _facet_vector(self, facet: str) -> np.ndarray:
        """A glossary sub-query's vector. The glossary is a fixed few dozen strings: each is
        embedded once per retriever, not once per question that touches its topic (the
        question cache is per question and may be cleared)."""
        key = (facet, self.adapter.digest if self.adapter is not None else None)
        vector = self._facet_vectors.get(key)
        if vector is None:
            vector = self._facet_vectors[key] = self.query_vector(facet)
        return vector

    def query_vector(self, text: str) -> np.ndarray:
        """The vector dense search uses for a question: the model's, through the adapter."""
        vector = self.embed(text)
        return self.adapter.adapt(text, vector) if self.adapter is not None else vector

    def signals(self, snapshot: Snapshot, query: str, filters: Filters, n: int) -> Signals:
        """Each signal's ranking for a question, before weighting; kept for a few hundred
        questions so that re-ranking with other weights (tuning, ablation) costs no search."""
        key = (snapshot.manifest.generation, snapshot.dense_count, query, filters, n,
               self.adapter.digest if self.adapter else None)
        cached = self._signal_cache.get(key)
        if cached is not None:
            self._signal_cache.move_to_end(key)
            return cached
        mask = snapshot.mask(filters)
        expanded = expand(query)
        titles = self._title_index(snapshot)
        title_rank: dict[str, int] = {}
        title_score: dict[str, float] = {}
        for rank, (row, score) in enumerate(titles.search(expanded, n, mask)):
            for position in titles.members[row]:
                title_rank.setdefault(snapshot.sparse.ids[position], rank)
                title_score.setdefault(snapshot.sparse.ids[position], score)
        raw = self.embed(query)
        adapted = self.adapter.adapt(query, raw) if self.adapter is not None else raw
        raw_dense = self.reader.dense_search(snapshot, raw, n, filters)
        facet_rankings = []
        for facet in facets(query)[: self.max_facets]:
            facet_dense = self.reader.dense_search(snapshot, self._facet_vector(facet), n // 2, filters)
            facet_rankings += [_ranked(cid for cid, _ in facet_dense),
                               _ranked(cid for cid, _ in snapshot.sparse.search(facet, n // 2, mask))]
        signals = Signals(
            dense=self.reader.dense_search(snapshot, adapted, n, filters) if adapted is not raw else raw_dense,
            body=snapshot.sparse.search(expanded, n, mask),
            # Every chunk of a title shares its rank: the title says what the unit is about,
            # dense and body scores say which of its paragraphs answers.
            title=list(title_rank.items()),
            facets=facet_rankings,
            title_score=title_score,
            raw=raw_dense,
        )
        self._signal_cache[key] = signals
        if len(self._signal_cache) > 512:
            self._signal_cache.popitem(last=False)
        return signals

    def candidates(self, snapshot: Snapshot, query: str, signals: Signals) -> Candidates:
        """Every signal's candidates with their learned-fusion features (also what
        `python -m evals.tune` trains on)."""
        facts = snapshot.derive("facts", lambda: ChunkFacts(
            snapshot.by_id, unit_of=unit_of, parents=self.parents(snapshot), authority=AUTHORITY))
        return candidate_features(facts, signals.dense, signals.body, dict(signals.title),
                                  signals.title_score, signals.facets, raw=signals.raw,
                                  named=jurisdictions_named(query), question=query,
                                  coverage=lambda ids: self._coverage(snapshot, query, ids))

    def _coverage(self, snapshot: Snapshot, query: str, ids: list[str]) -> Coverage:
        """Idf-weighted share of the question's terms in each chunk and in its unit's heading, and
        which chunk holds which term (one pass over the terms' postings for both)."""
        expanded = expand(query)
        positions = [snapshot.positions[cid] for cid in ids]
        titles = self._title_index(snapshot)
        rows = titles.row_of[positions] if positions else np.zeros(0, dtype=np.int64)
        weights, present = snapshot.sparse.presence(expanded, positions)
        return Coverage(covered_share(weights, present), titles.sparse.coverage(expanded, rows.tolist()), weights, present)

    def _rank_units(self, snapshot: Snapshot, chunk_score: dict[str, float], query: str,
                    k: int, fusion: Fusion) -> dict[tuple[str, str], list[str]]:
        """The top k citable units (document, label), each ranked on its best chunk; at most a
        few paragraphs of one section; the best unit of every jurisdiction the question names."""
        group_of = snapshot.derive("groups", lambda: {
            cid: (chunk.doc_id, f"{chunk.section}\x1f{chunk.unit}") for cid, chunk in snapshot.by_id.items()})
        groups: dict[tuple[str, str], list[str]] = {}
        for _, cid in sorted((-score, cid) for cid, score in chunk_score.items()):
            groups.setdefault(group_of[cid], []).append(cid)
        chosen: dict[tuple[str, str], list[str]] = {}
        per_parent: dict[tuple[str, str], int] = {}
        named = jurisdictions_for(query)
        if len(named) >= 2:
            for jurisdiction in named:
                key = next((key for key, cids in groups.items()
                            if snapshot.by_id[cids[0]].jurisdiction == jurisdiction), None)
                if key is not None and len(chosen) < k:
                    chosen[key] = groups[key]
        for key, cids in groups.items():
            if len(chosen) >= k:
                break
            if key in chosen:
                continue
            parent = unit_of(snapshot.by_id[cids[0]])
            if per_parent.get(parent, 0) >= fusion.per_parent and chunk_score[cids[0]] < PINNED - 5:
                continue
            per_parent[parent] = per_parent.get(parent, 0) + 1
            chosen[key] = cids
        return dict(sorted(chosen.items(), key=lambda item: -chunk_score[item[1][0]]))

    # -- pieces ------------------------------------------------------------------------------

    def _title_index(self, snapshot: Snapshot) -> TitleIndex:
        return snapshot.derive("titles", lambda: TitleIndex.build([snapshot.by_id[cid] for cid in snapshot.sparse.ids]))

    def _resolve(self, snapshot: Snapshot, references: list[Reference], filters: Filters,
                 fused: dict[str, float]) -> tuple[list[tuple[Chunk, int]], list[Reference]]:
        """The chunks each reference names (with `relation`), and the references naming none.
        `fused` (chunk id → fused score) orders the instruments of a reference that names
        none, and the paragraphs a long unit pins: "Article 5" alone is Article 5 of whichever instrument the rest of the question
        is about, not the first in alphabetical order or the one labelled exactly."""
        if not references:
            return [], []
        sections = self.sections(snapshot)
        found: list[tuple[Chunk, int]] = []
        unresolved: list[Reference] = []
        for ref in references:
            if ref.kind == "heading_code":
                section = RECORDED_MISSING_CODES.get(ref.label.upper())
                if section is None:
                    # "License Exception CAM": a code that no bundled text names, neither a Part
                    # 740 heading nor a rule that mentions it (LPP, NAC), is a false premise. A
                    # named one is ranked first, not pinned (`_defined_by_code`).
                    if ref.label.upper() not in named_exception_codes(snapshot):
                        unresolved.append(ref)
                    continue
                # A licence exception whose section the MANIFEST records as not bundled: the
                # question names that section (`§ 740.18` for AGR), which the index lacks.
                ref = Reference("cfr", normalise(section), f"{ref.display} ({section})", ref.instrument, True)
            # The units sharing the reference's stem: the entry, its parts and their neighbours.
            related = {label: sections[label] for label in self._by_stem(snapshot).get(_stem(ref.label), [])}
            matches: list[tuple[int, Chunk]] = []
            for label, chunks in related.items():
                rel = relation(label, ref)
                if rel is not None:
                    matches.extend((rel, c) for c in chunks if filters.allows(c))
            # "Article 38 of the EU dual-use regulation" is not the UK Order's Article 38; an
            # instrument only mentioned elsewhere in the question is a preference, not a rule.
            own = [m for m in matches if names_instrument(ref, m[1].cite_as)]
            matches = own if own or ref.explicit else matches
            # Of the units containing it, the nearest: 5.A.1.b for 5.A.1.b.5, not 5.A.1 (the label
            # compared without its "ECCN ": Annex I's 5A001.j before the CCL's ECCN 5A001).
            matches.sort(key=lambda m: (m[0], -len(normalise(m[1].section)) if m[0] == 2 else 0, m[1].doc_id, m[1].ordinal))
            if not matches or (matches[0][0] == 2 and all(
                    _lacks_part(related, nearest, ref) for nearest in _nearest_per_document(matches))):
                # Nothing by that name; or every entry that would contain it exists without it:
                # it has labelled parts, or lists its items inline, and the named part is not
                # one of them (`5A001.z`, `§ 742.7(z)`): a false premise, not a question about
                # the whole entry. One list holding it is enough (the CCL's 5A004 lists b. inline;
                # Annex I labels its 5A004.b: "5A004.b under the EAR" is the CCL's).
                unresolved.append(ref)
                continue
            if ref.note is not None and not _has_note(related, ref, {c.doc_id for _, c in matches}):
                # "Note 2 to 4.D.4" when the entry has one unnumbered Note: a false premise too.
                unresolved.append(ref)
                continue
            docs = {c.doc_id for _, c in matches}
            if len(docs) > 1:
                # A document holding the unit itself (or its parts) before one holding only the
                # entry that contains it (the CCL's ECCN 5A001 for 5A001.j); then by evidence.
                holds = {d: min(rel for rel, c in matches if c.doc_id == d) < 2 for d in docs}
                best = {d: max((fused.get(c.chunk_id, 0.0) for _, c in matches if c.doc_id == d), default=0.0)
                        for d in docs}
                matches.sort(key=lambda m: (not holds[m[1].doc_id], -best[m[1].doc_id], m[1].doc_id, m[0],
                                            m[1].ordinal))
            found.extend((c, rel) for rel, c in _pinned(matches, fused))
            # An entry's notes saying what it does not control are part of what it means ("Are
            # DPI appliances for QoS caught by 5A001.j?": its Note excludes QoS systems); they
            # stand past its first paragraphs, or in a sibling's ("Note 3: 6A003.b.4.b. does not
            # control …" closes 6A003.b.4.c).
            if ref.kind == "control_code":
                taken = {c.chunk_id for c, _ in found}
                for doc in dict.fromkeys(c.doc_id for _, c in matches[:PINNED_CHUNKS]):
                    notes = [c for c, _ in exclusion_notes(self._exclusions(snapshot).get(doc, []), ref.display)
                             if c.chunk_id not in taken and filters.allows(c)]
                    found.extend((c, 1) for c in notes[:PINNED_NOTES])
        return found, unresolved

    def _exclusions(self, snapshot: Snapshot) -> dict[str, list[Chunk]]:
        """Per document, the chunks that say "does not control/apply", once per generation: a
        named entry's notes are looked for among these, not by scanning the whole list per question."""
        return snapshot.derive("exclusions", lambda: {
            doc: [c for c in chunks if EXCLUDES.search(c.text)] for doc, chunks in snapshot.by_doc.items()})

    def parents(self, snapshot: Snapshot) -> dict[str, str]:
        """Chunk id → its nearest labelled ancestor's first chunk (`parent_map`), per generation."""
        return snapshot.derive("parents", lambda: parent_map(snapshot))

    def _defined_by_code(self, snapshot: Snapshot, references: list[Reference], chunk_score: dict[str, float],
                         only: bool) -> list[str]:
        """For each section whose heading defines a code the question names, the paragraph to rank
        first: its opening one when the question asks only about the code ("What is License
        Exception BAG?" is answered by its scope), else its paragraph with the best evidence
        ("Under BAG, what must an employee do to protect technology on a laptop?" by (g)(2)). A
        code no bundled heading defines (§ 740.18's AGR is not bundled) names nothing."""
        codes = _heading_codes(snapshot)
        found: list[str] = []
        for ref in references:
            section = codes.get(ref.label.upper()) if ref.kind == "heading_code" else None
            chunks = self.unit_chunks(snapshot, section) if section else []
            if chunks:
                best = chunks[0] if only else max(chunks, key=lambda c: (chunk_score.get(c.chunk_id, 0.0), -c.ordinal))
                found.append(best.chunk_id)
        return found

    def unit_chunks(self, snapshot: Snapshot, label: str) -> list[Chunk]:
        """A section's chunks with text, in document order (`§ 740.14` holds § 740.14(a) …):
        not its Federal Register source note ("[61 FR 12768, …]", which the eCFR sets before
        paragraph (a) when a section has no text of its own above it) nor an amendment notice
        alone ("Link to an amendment published at 89 FR 34702 …")."""
        def build() -> dict[str, list[Chunk]]:
            index: dict[str, list[Chunk]] = {}
            for chunk in snapshot.chunks:
                if not provenance_only(chunk.text):
                    match = _PARAGRAPHED.match(chunk.section)
                    index.setdefault(normalise(match.group(1) if match else chunk.section), []).append(chunk)
            for chunks in index.values():
                chunks.sort(key=lambda c: (c.doc_id, c.ordinal))
            return index
        return snapshot.derive("unit_chunks", build).get(normalise(label), [])

    def _defining(self, snapshot: Snapshot, query: str, chunk_score: dict[str, float],
                  filters: Filters) -> list[str]:
        """The chunks defining the term a question asks about (`assistant/definitions.py`): in
        each jurisdiction the question names, or, naming none, the best-scored one."""
        terms = snapshot.derive("definitions", lambda: DefinedTerms.build(snapshot.chunks))
        defining = [snapshot.by_id[cid] for cid in terms.chunks_for(terms.asked(query))]
        defining = [c for c in defining if filters.allows(c)]
        if not defining:
            return []
        ranked = sorted(defining, key=lambda c: (-chunk_score.get(c.chunk_id, 0.0), c.doc_id, c.ordinal))
        named = [j for j in jurisdictions_named(query) if any(c.jurisdiction == j for c in defining)]
        if not named:
            return [ranked[0].chunk_id]
        return [next(c.chunk_id for c in ranked if c.jurisdiction == j) for j in named]

    def _pointed_to(self, snapshot: Snapshot, chunk_ids: list[str],
                    filters: Filters) -> tuple[list[str], list[Reference]]:
        """For definitions that are only a pointer, the opening chunk of each section pointed to,
        and the references to sections the bundled copy leaves out."""
        found: list[str] = []
        gaps: list[Reference] = []
        for cid in chunk_ids:
            pointer = _POINTER.match(snapshot.by_id[cid].text.strip())
            for ref in find_references(pointer.group(1)) if pointer else []:
                opening = next((c for c in self.unit_chunks(snapshot, ref.label) if filters.allows(c)), None)
                if opening is not None:
                    found.append(opening.chunk_id)
                elif not_bundled(snapshot, [ref]):
                    gaps.append(ref)
        return found, gaps

    def introducing(self, snapshot: Snapshot, chunk: Chunk) -> list[Chunk]:
        """`introducers` of a chunk, with this generation's parents and label positions; worked
        out once per generation (retrieval asks for each hit, the composer again for each quote)."""
        return _per_chunk(snapshot, "introducers", chunk,
                          lambda: introducers(snapshot, chunk, self.parents(snapshot), labels=_labels(snapshot)))

    def closing(self, snapshot: Snapshot, chunk: Chunk) -> list[Chunk]:
        """`closing_words` of a list item, with this generation's parents and label positions; once
        per generation, like `introducing`."""
        return _per_chunk(snapshot, "closing_words", chunk,
                          lambda: closing_words(snapshot, chunk, self.introducing(snapshot, chunk), _labels(snapshot)))

    def lead_in(self, snapshot: Snapshot, chunk: Chunk) -> Chunk | None:
        """`lead_in` of a chunk, found by this generation's label positions."""
        return lead_in(snapshot, chunk, _labels(snapshot))

    def _by_stem(self, snapshot: Snapshot) -> dict[str, list[str]]:
        """Normalised labels grouped by `_stem`: a reference relates only to labels of its stem."""
        def build() -> dict[str, list[str]]:
            index: dict[str, list[str]] = {}
            for label in self.sections(snapshot):
                index.setdefault(_stem(label), []).append(label)
            return index
        return snapshot.derive("stems", build)

    def sections(self, snapshot: Snapshot) -> dict[str, list[Chunk]]:
        """Normalised label (`§742.7(a)`) → its chunks, per generation."""
        def build() -> dict[str, list[Chunk]]:
            index: dict[str, list[Chunk]] = {}
            for chunk in snapshot.chunks:
                index.setdefault(normalise(chunk.section), []).append(chunk)
            return index
        return snapshot.derive("sections", build)

    def _similarities(self, snapshot: Snapshot, vector: np.ndarray, chunk_ids: list[str]) -> dict[str, float]:
        """Dense similarity of hits that dense search did not return. While the index warms up,
        only vectors already in memory count: a chunk without one has no similarity (not 0.0),
        and Chroma is not read from a request — another process is writing the collection, and
        embedded Chroma can fail to read a segment mid-write ("Nothing found on disk")."""
        present = snapshot.present
        if snapshot.vectors is not None:
            return {cid: float(snapshot.vectors[snapshot.positions[cid]] @ vector) for cid in chunk_ids
                    if present is None or present[snapshot.positions[cid]]}
        if present is not None:
            return {}  # a warm start with no vector stored yet
        assert snapshot.store is not None  # set whenever the vectors are not held in memory
        return {cid: float(np.dot(vector, emb)) for cid, emb in snapshot.store.get_vectors(chunk_ids).items()}

    def _with_lead_ins(self, snapshot: Snapshot, hits: list[Hit]) -> list[Hit]:
        """The hits, then each hit's lead-in, the paragraphs that introduce it (see
        `introducers`) and the words that close its list (`closing_words`), for quoting beside it."""
        have = {h.chunk.chunk_id for h in hits}
        result: list[Hit] = list(hits)
        for hit in hits:
            for parent in [self.lead_in(snapshot, hit.chunk), *self.introducing(snapshot, hit.chunk),
                           *self.closing(snapshot, hit.chunk)]:
                if parent is not None and parent.chunk_id not in have:
                    have.add(parent.chunk_id)
                    result.append(Hit(parent, hit.score, None, None))
        return result


def _per_chunk(snapshot: Snapshot, name: str, chunk: Chunk, build: Callable[[], list[Chunk]]) -> list[Chunk]:
    """`build()` for this chunk, kept with the generation's derived structures. Keyed by id and end:
    an opening line cut from its paragraph (`_introduced_past_siblings`) keeps the paragraph's id."""
    found: dict[tuple[str, int], list[Chunk]] = snapshot.derive(name, dict)
    key = (chunk.chunk_id, chunk.end)
    if key not in found:
        found[key] = build()
    return found[key]


def _rrf(snapshot: Snapshot, signals: Signals, fusion: Fusion, named: list[str]) -> dict[str, float]:
    """Weighted reciprocal rank fusion of the signals (the fallback without a learned model)."""
    rankings = [(fusion.dense, _ranked(cid for cid, _ in signals.dense)),
                (fusion.body, _ranked(cid for cid, _ in signals.body)),
                (fusion.title, signals.title)] + [(fusion.facet, r) for r in signals.facets]
    chunk_score: dict[str, float] = {}
    for weight, ranking in rankings:
        if not weight:
            continue
        for cid, rank in ranking:
            chunk_score[cid] = chunk_score.get(cid, 0.0) + weight / (RRF_K + rank + 1)
    for cid in chunk_score:  # binding text before commentary on it, at otherwise equal rank
        chunk = snapshot.by_id[cid]
        chunk_score[cid] *= AUTHORITY.get(chunk.doc_type, 0.9)
        if len(named) == 1 and chunk.jurisdiction != named[0]:
            chunk_score[cid] *= fusion.other_jurisdiction
    return chunk_score


_DEFINED_CODE = re.compile(r"\(([A-Z]{3})\)\.?$")
_TOP_CFR = re.compile(r"^§ \d+\.\d+[a-z]?$")


def heading_codes(chunks: Iterable[Chunk]) -> dict[str, str]:
    """Code → the CFR section whose heading defines it in brackets at its end (`TSU` → `§
    740.13 Technology and software—unrestricted (TSU)`); codes two headings define are left out."""
    found: dict[str, set[str]] = {}
    for chunk in chunks:
        if _TOP_CFR.match(chunk.section):
            match = _DEFINED_CODE.search(chunk.heading_path.rsplit(" › ", 1)[-1])
            if match:
                found.setdefault(match.group(1), set()).add(chunk.section)
    return {code: next(iter(sections)) for code, sections in found.items() if len(sections) == 1}


_ITEMS_PARAGRAPH = re.compile(r"(?:^|(?<=\s))Items:(.*)$", re.M)  # also where a chunk joined by " " starts with it
_LINE_ITEM = re.compile(r"^[ \t]*([a-z])\.[ \t]", re.M)
_IN_HEADING = re.compile(r"\blist of items controlled is contained in the ECCN heading\b", re.I)


# The score a named unit's chunks start from: above every fused score (probabilities, or RRF
# sums), so that `evidence(score)` recovers what retrieval found in each of them.
PINNED = 10.0


def evidence(score: float) -> float:
    """A chunk's own fused evidence, whether or not it was pinned as part of a named unit."""
    return max(score - PINNED, 0.0) if score >= PINNED - 5 else score


# Words that ask for a named unit as such ("Explain 5A001.j", "What does § 744.11 require?").
_ABOUT_A_UNIT = content_terms("explain say says said mean means cover covers covered control controls controlled "
                              "list listed entry article section paragraph eccn regulation wassenaar eu uk us ear "
                              "annex text provision contain contains tell state states describe read summarise "
                              "summarize full whole item items")


def asks_only_for(query: str, references: list[Reference]) -> bool:
    """Does the question name units and (nearly) nothing else?"""
    named = set().union(*(content_terms(r.display) for r in references)) if references else set()
    return len(content_terms(query) - named - _ABOUT_A_UNIT) <= 1


def _writes_item(text: str, code: str, path: str) -> bool:
    """Does the entry write a deeper sub-item out by its path? The CCL prefixes each one ("f.1.
    Interception equipment …", "b.5.a. More than 1,000 channels") and its Notes name them whole
    ("Note: 5A001.f.1 and 5A001.f.2 do not apply …"): such an item exists, however the inline
    reading (made for Annex I's "f. … 1. …") lays the entry out."""
    if "." not in path:
        return False
    prefixed = re.compile(rf"(?<![\w.]){re.escape(path)}\.(?=\s)", re.I)
    whole = re.compile(rf"(?<![\w.]){re.escape(code)}\.{re.escape(path)}(?![\w]|\.\w)", re.I)
    return bool(prefixed.search(text) or whole.search(text))


def lacks_inline_item(entry: list[Chunk], ref: Reference) -> bool:
    """Does an entry list its sub-items inline without the one named? A CCL entry's "Items:"
    paragraph is one unit ("a. “Software” … b. “Software” …" for ECCN 5D980), so `5D980.c` finds
    no labelled part, yet it does not exist: a false premise, not a question about the entry.
    An entry whose items are "contained in the ECCN heading" has no lettered items: ECCN 3A981
    lists its goods in one heading, so `3A981.b` does not exist."""
    if not entry:
        return False
    code = normalise(entry[0].section)
    below = ref.label[len(code) + 1 :] if ref.label.startswith(code + ".") else ""  # "f.1" of 5a001.f.1
    named = below.split(".")[0]
    if ref.kind == "wassenaar" and re.fullmatch(r"\d{1,2}", named):
        # The Wassenaar List lays numbered sub-items out as spaced codes ("5. A. 1.    b.   5.    Being
        # digitally controlled radio receivers"); a Note names them whole ("Note 5.A.1.b.5. …").
        parts = [re.escape(p) for p in ref.label.split(".")[: code.count(".") + 2]]
        spaced = re.compile(r"(?<![\w.])" + r"\.\s*".join(parts) + r"\.", re.I)
        return not any(spaced.search(c.text) for c in entry)
    if not re.fullmatch(r"[a-z]", named):
        return False
    text = " ".join(c.text for c in sorted(entry, key=lambda c: c.start))
    if _writes_item(text, code, below):
        return False
    items_paragraphs = [match.group(1) for match in _ITEMS_PARAGRAPH.finditer(text)]
    paths = {item.path for items in items_paragraphs for item in inline_items(items, code.upper())}
    if paths:
        # Level by level, as deep as the entry lays its items out: 5A001.j.3 is missing where
        # j. lists j.1 and j.2; below a level the entry does not lay out, nothing is decided.
        path = tuple(below.split("."))
        for depth in range(1, len(path) + 1):
            level = {p for p in paths if len(p) == depth and p[: depth - 1] == path[: depth - 1]}
            if not level:
                return False
            if path[:depth] not in level:
                return True
        return False
    if re.search(rf"(?<![\w.]){named}\.\s", text):
        return False  # named as an item somewhere in the entry
    if items_paragraphs and all(_IN_HEADING.search(p) for p in items_paragraphs):
        return True
    # A list entry laid out line by line ("4. E. 1. "Technology" as follows: / a. … / b. … /
    # c. …", Wassenaar): a letter past the last one listed is not there. A leaf entry ("4. A. 5.
    # Systems, equipment, and components therefor, … "intrusion software".") lists none at all.
    lines = {m.group(1) for m in _LINE_ITEM.finditer("\n".join(c.text for c in entry))}
    return ("a" in lines and named > max(lines)) or (not lines and not items_paragraphs)


def _has_note(related: dict[str, list[Chunk]], ref: Reference, docs: set[str]) -> bool:
    """Does the named entry (with its sub-items, where a Note may stand: "Note 3: 6A003.b.4.b. does
    not control …" closes 6A003.b.4.c) hold a Note of that number, in a document that has it?
    `related`: the units of the entry's stem (`_by_stem`), which hold the entry and its parts."""
    entry = ".".join(ref.label.split(".")[:3]) if ref.kind == "wassenaar" else ref.label.split(".")[0]
    numbered = re.compile(rf"\bNote\s*{ref.note}(?![\d])(?!\.\s?\w)", re.I)  # not "Note 4.D.4 does not …"
    return any(numbered.search(c.text) for label, chunks in related.items()
               if label == entry or label.startswith(entry + ".") for c in chunks if c.doc_id in docs)


def _pinned(matches: list[tuple[int, Chunk]], scores: dict[str, float]) -> list[tuple[int, Chunk]]:
    """The chunks a named unit pins: the first PINNED_CHUNKS of its matches; but of a unit longer
    than that (EU008's eleven paragraphs), its opening chunk and then its best-scored paragraphs,
    in document order ("(iv) for use in connection with a violation of human rights" stands past
    the first six)."""
    head, doc = matches[0], matches[0][1].doc_id
    own = [m for m in matches[1:] if m[1].doc_id == doc]
    if len(own) < PINNED_CHUNKS:
        return matches[:PINNED_CHUNKS]
    rest = sorted(own, key=lambda m: (-scores.get(m[1].chunk_id, 0.0), m[0], m[1].ordinal))[: PINNED_CHUNKS - 1]
    return [head, *sorted(rest, key=lambda m: (m[0], m[1].ordinal))]


def _stem(label: str) -> str:
    """A label up to its first "(" or ".": a unit and the units it contains or is part of
    (`relation`) share it (`§742.7(a)` and `§742.7`: `§742`; `5A001.j` and `5A001`: `5A001`)."""
    return re.split(r"[(.]", label, maxsplit=1)[0]


def _nearest_per_document(matches: list[tuple[int, Chunk]]) -> list[Chunk]:
    """The first (nearest) containing unit of each document, in the order of `matches`."""
    nearest: dict[str, Chunk] = {}
    for _, chunk in matches:
        nearest.setdefault(chunk.doc_id, chunk)
    return list(nearest.values())


def _lacks_part(related: dict[str, list[Chunk]], entry: Chunk, ref: Reference) -> bool:
    """Does this document's entry exist without the part `ref` names (labelled parts, or items
    listed inline, and not that one)? `related`: the units of the reference's stem (`_by_stem`),
    which hold the entry and all its parts — not every unit of the corpus."""
    return _has_parts(related, entry.section, entry.doc_id) or lacks_inline_item(
        [c for c in related.get(normalise(entry.section), []) if c.doc_id == entry.doc_id], ref)


def _has_parts(related: dict[str, list[Chunk]], label: str, doc: str) -> bool:
    """Has the unit labelled parts in its own document? Annex I's 5A004.b is a labelled unit,
    the CCL's ECCN 5A004 lists its b. inline: a part of one list says nothing of the other.
    `related`: the units of the label's stem (`_by_stem`), where all its parts are."""
    parent = Reference("unit", normalise(label))
    return any(relation(other, parent) == 1 and any(c.doc_id == doc for c in chunks)
               for other, chunks in related.items())


def _rules_by_code(chunks: Iterable[Chunk]) -> dict[str, list[str]]:
    """Control-list code -> the passages outside the control lists that name it and state a rule."""
    found: dict[str, list[str]] = {}
    for chunk in chunks:
        if chunk.doc_type != "control_list" and states_rule(chunk.text):
            for code in list_codes(chunk.text):
                found.setdefault(code, []).append(chunk.chunk_id)
    return found


def _rank_first(chunk_score: dict[str, float], chunk_ids: list[str]) -> None:
    """Put these chunks just above the best score, in this order: ranked first, not pinned (an
    exact reference's 10.0), so what a named unit does not hold can still be declined."""
    if not chunk_ids or not chunk_score:
        return
    top = max(chunk_score.values())
    for order, cid in enumerate(chunk_ids):
        chunk_score[cid] = max(chunk_score.get(cid, 0.0), top + 1e-3 * (len(chunk_ids) - order))


def _ranked(chunk_ids: Iterable[str]) -> list[tuple[str, int]]:
    return [(cid, rank) for rank, cid in enumerate(chunk_ids)]


_PARAGRAPHED = re.compile(r"^((?:§ \d+\.\d+[a-z]?|Article \d+[a-z]?))\(")
# Provenance, not text: an eCFR source note, or an amendment notice with nothing after it.
_SOURCE_NOTE = re.compile(r"^\s*\[\d+ FR \d+")
_DATE = r"[A-Z][a-z]+\.? \d{1,2}, \d{4}"
_AMENDMENT_NOTICE = re.compile(rf"Link to an amendment published at \d+ FR \d+, {_DATE}\."
                               rf"(?:\s*This amendment was delayed until {_DATE}, at \d+ FR \d+, {_DATE}\.)?")


def provenance_only(text: str) -> bool:
    """Is this chunk only a source note or an amendment notice (no rule text)?"""
    if _SOURCE_NOTE.match(text):
        return True
    rest, notices = _AMENDMENT_NOTICE.subn(" ", text)
    return notices > 0 and len(rest.split()) < 3


def unit_of(chunk: Chunk) -> tuple[str, str]:
    """The citable unit a chunk belongs to for ranking: `§ 742.7(a)(1)` counts as `§ 742.7`,
    `Article 5(2)` as `Article 5`; `Recital (2)` or `5A001.j` stand as they are."""
    if chunk.unit:
        return chunk.doc_id, chunk.unit
    match = _PARAGRAPHED.match(chunk.section)
    return chunk.doc_id, match.group(1) if match else chunk.section


def parent_map(snapshot: Snapshot) -> dict[str, str]:
    """Chunk id → the first chunk of its nearest labelled ancestor in the same document."""
    result: dict[str, str] = {}
    for chunks in snapshot.by_doc.values():
        first: dict[str, str] = {}
        for chunk in chunks:
            first.setdefault(chunk.section, chunk.chunk_id)
        for chunk in chunks:
            label = parent_label(chunk.section)
            while label is not None and label not in first:
                label = parent_label(label)
            if label is not None:
                result[chunk.chunk_id] = first[label]
    return result


def lead_in(snapshot: Snapshot, chunk: Chunk,
            labels: dict[tuple[str, str], list[int]] | None = None) -> Chunk | None:
    """Where a unit states its rule: the top-level paragraph of a CFR sub-paragraph (`§ 742.7(a)`
    for `§ 742.7(a)(1)`), or the first chunk of a long entry (the heading of ECCN 6A003).
    `labels` (`label_positions`) finds it without scanning the document."""
    match = re.match(r"^(§ \d+\.\d+[a-z]?\([a-z]+\))\(", chunk.section)
    section = match.group(1) if match else chunk.section
    if labels is not None:
        own = labels.get((chunk.doc_id, section))
        first = snapshot.by_doc[chunk.doc_id][own[0]] if own else None
    else:
        first = next((c for c in snapshot.by_doc[chunk.doc_id] if c.section == section), None)
    return first if first is not None and first.chunk_id != chunk.chunk_id else None


def _labels(snapshot: Snapshot) -> dict[tuple[str, str], list[int]]:
    return snapshot.derive("labels", lambda: label_positions(snapshot))


def exception_codes(snapshot: Snapshot) -> frozenset[str]:
    """The licence exceptions' codes, as Part 740's headings define them (TSU, TMP, GOV)."""
    return snapshot.derive("exception_codes", lambda: frozenset(
        code for code, section in _heading_codes(snapshot).items() if section.startswith("§ 740.")))


def named_exception_codes(snapshot: Snapshot) -> frozenset[str]:
    """Every licence-exception code the bundled texts know: Part 740's headings define most
    (`exception_codes`); rules name the others (License Exception LPP, § 740.29, not bundled)."""
    return snapshot.derive("named_exception_codes", lambda: exception_codes(snapshot) | frozenset(
        m.group(1) or m.group(2) for c in snapshot.chunks for m in LICENCE_EXCEPTION_CODE.finditer(c.text)))


def _heading_codes(snapshot: Snapshot) -> dict[str, str]:
    return snapshot.derive("codes", lambda: heading_codes(snapshot.chunks))


def label_positions(snapshot: Snapshot) -> dict[tuple[str, str], list[int]]:
    """(document, label) → the ordinals of its chunks, ascending."""
    found: dict[tuple[str, str], list[int]] = {}
    for chunks in snapshot.by_doc.values():
        for chunk in chunks:
            found.setdefault((chunk.doc_id, chunk.section), []).append(chunk.ordinal)
    return found


def introducers(snapshot: Snapshot, chunk: Chunk, parents: dict[str, str], limit: int = 3,
                labels: dict[tuple[str, str], list[int]] | None = None) -> list[Chunk]:
    """The paragraphs a list item depends on, outermost first: `§ 734.3(b)(3)(ii)` "Arise during,
    or result from, fundamental research" reads as the law only after "(b) The following are not
    subject to the EAR:" and "(3) Information and software that:". An ancestor introduces its
    items when its text ends with a colon; the chain stops at the first one that does not."""
    chain: list[Chunk] = []
    current = chunk
    while len(chain) < limit:
        first_id = parents.get(current.chunk_id)
        if first_id is None:
            if current is chunk:  # a unit cited by one label: its items have no parent paragraph
                own = labels.get((chunk.doc_id, chunk.section), []) if labels is not None else \
                    [c.ordinal for c in snapshot.by_doc[chunk.doc_id] if c.section == chunk.section]
                chain += _introduced_past_siblings(snapshot, chunk, own)
            break
        first = snapshot.by_id[first_id]
        # A long paragraph is split into several chunks: its last one before the item ends it
        # (chunks of a document are in order: `ordinal` is the position in `by_doc`).
        own = labels.get((first.doc_id, first.section), [first.ordinal]) if labels is not None else [first.ordinal]
        position = own[max(bisect_left(own, current.ordinal) - 1, 0)]
        parent = snapshot.by_doc[first.doc_id][position]
        if not parent.text.rstrip().endswith(INTRODUCING_ENDS):
            break
        chain.append(parent)
        current = first
    return chain[::-1]


# An introducing paragraph ends with a colon; the UK Order and the United States Code end it with
# a dash: "(2) Subject to article 26, the enquirer shall not—" (then "(a) export …; or").
INTRODUCING_ENDS = (":", "—")


def closing_words(snapshot: Snapshot, chunk: Chunk, introduced_by: list[Chunk],
                  labels: dict[tuple[str, str], list[int]]) -> list[Chunk]:
    """The words that close the list a list item belongs to, innermost list first: "(2) … the
    enquirer shall not— (a) export the goods in question; or (b) transfer … by electronic means
    to a destination outside the United Kingdom unless, having made all reasonable enquiries …,
    the enquirer is satisfied …". The rule's condition is in its closing words, which the
    chunker keeps as a further chunk of the introducing paragraph's label, after its items."""
    found: list[Chunk] = []
    for parent in reversed(introduced_by):
        # A unit cited by one label (EU004) has no closing words: its next chunk is the next item.
        if parent.section == chunk.section:
            continue
        doc = snapshot.by_doc[parent.doc_id]
        after = [position for position in labels.get((parent.doc_id, parent.section), []) if position > chunk.ordinal]
        if not after:
            continue
        closing = doc[after[0]]
        # Only the list's own items stand between the item and the closing words: the rest of the
        # sentence the lead-in opened ("to a destination …", "if paragraph (2) … applies.") or of
        # its paragraph ("For the purposes of this Regulation, the sole provision of ancillary
        # services is excluded from this definition."), never a further item or a section's
        # source note ("[61 FR 12768, …]").
        items = doc[chunk.ordinal + 1 : closing.ordinal]
        if (not _ITEM.match(closing.text) and not provenance_only(closing.text)
                and all(c.section.startswith(parent.section) for c in items)
                and closing.chunk_id not in {c.chunk_id for c in found}):
            found.append(closing)
    return found


# A list item's designator: "- (f) the …", "- 3.This …", "   - (ii) …"; its kind is what its
# siblings share ("(f)" and "(b)": a letter in brackets), its indent how deep it sits.
_ITEM = re.compile(r"^( *)(?:[-*•] +)?(\((?:[a-z]|[ivx]+|\d+)\)|\d+\.|[a-z]\.)")


def _item_kind(designator: str) -> str:
    """"(a)", "(i)", "(1)", "1." or "a.": the kind of designator ("(v)" and "(x)" read as letters)."""
    if designator.startswith("("):
        inner = designator[1:-1]
        return "(1)" if inner.isdigit() else "(i)" if inner in _ROMAN else "(a)"
    return "1." if designator[0].isdigit() else "a."


_ROMAN = frozenset({"i", "ii", "iii", "iv", "vi", "vii", "viii", "ix", "xi", "xii", "xiii", "xiv"})
# How far back a list's opening is looked for: past the longest run of siblings in Annex II.
_LOOKBACK_CHUNKS = 8


def _introduced_past_siblings(snapshot: Snapshot, chunk: Chunk, own: list[int],
                              limit: int = 2) -> list[Chunk]:
    """In a unit cited by one label (an EU general authorisation), the paragraph that introduces
    a list item may sit several chunks back, past the item's siblings: "(f) the relevant items
    are to be exported for a private presentation" reads as a condition under the unit's heading,
    and is an exclusion after "3. This authorisation does not authorise the export of items
    where:". Walking back line by line, siblings (the item's kind of designator) and the items
    nested under them (other kinds) are passed; the first other line opens the item's list if it
    ends with a colon, and nothing does if it does not. An opener in the middle of a stored
    paragraph is returned as that paragraph cut after it (same id and start, exact text), so its
    last sentence is the opener. Up to `limit` levels, innermost first (as `introducers` builds
    its chain before turning it round)."""
    earlier = [snapshot.by_doc[chunk.doc_id][i] for i in own if i < chunk.ordinal][-_LOOKBACK_CHUNKS:]
    lines = [(c, m.start(), m.end()) for c in earlier for m in re.finditer(r"[^\n]+", c.text)]
    item = _ITEM.match(chunk.text)
    chain: list[Chunk] = []
    position = len(lines)
    while item is not None and len(chain) < limit:
        kind, nested = _item_kind(item.group(2)), set()
        found = None
        for index in range(position - 1, -1, -1):
            owner, start, end = lines[index]
            text = owner.text[start:end]
            if not text.strip():
                continue
            other = _ITEM.match(text)
            other_kind = _item_kind(other.group(2)) if other else None
            if other_kind == kind:
                continue  # a sibling
            if other_kind is not None and not text.rstrip().endswith(":"):
                nested.add(other_kind)  # an item of a sibling's own list
                continue
            if text.rstrip().endswith(":") and other_kind not in nested:
                found = index
            break
        if found is None:
            break
        owner, start, end = lines[found]
        opener = owner if end >= len(owner.text.rstrip()) else owner.model_copy(
            update={"text": owner.text[:end], "end": owner.start + end})
        chain.append(opener)
        item, position = _ITEM.match(owner.text[start:end]), found
    return chain


def merge_units(hits: list[Hit]) -> list[Passage]:
    """Group hits by citable unit (`§ 742.7` with its paragraphs), best unit first."""
    units: dict[tuple[str, str], Passage] = {}
    for hit in hits:
        key = unit_of(hit.chunk)
        passage = units.get(key)
        if passage is None:
            units[key] = Passage([hit.chunk], hit.score, hit.dense, hit.exact is not None,
                                 {hit.chunk.chunk_id: hit.score})
        else:
            passage.chunk_scores[hit.chunk.chunk_id] = hit.score
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
            for hit in result.hits[: self.k]  # lead-ins appended for quoting are not results
        ]
