"""Learned fusion: one calibrated score per candidate chunk from all ranking signals at once.

Reciprocal rank fusion throws away how strong each signal is (a BM25 score twice the next one,
a cosine far above the rest) and knows nothing of a chunk's place in its unit. This module
describes every candidate by a few features — each signal's score and rank, the best evidence
in its citable unit and in its parent paragraph, its authority and depth — and scores it with a
logistic model whose weights are learned on the dev set by cross-validation (`python -m
evals.tune --learn`), stored as plain numbers in assistant/fusion.json. The score is the
model's probability that the chunk overlaps an answering unit: comparable across questions, so
the answerer can use the best one as its "is this in the corpus at all" evidence.

Features only use what the candidate lists already hold (no extra vector reads), so a large
index served by Chroma scores exactly as the in-memory one does.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from assistant.references import instruments_named
from indexer.records import Chunk

FEATURES: tuple[str, ...] = (
    "dense",  # cosine similarity to the question (the list's floor where dense did not return it)
    "dense_gap",  # how far below the best cosine of the question
    "dense_rr",  # 1 / (10 + rank) in the dense list, 0 when absent
    "body",  # BM25 score / the question's best BM25 score
    "body_rr",
    "title_rr",  # rank of the unit's heading in the title index
    "facet_rr",  # summed over the glossary sub-queries
    "unit_dense",  # best cosine among candidates of the same citable unit (small-to-big)
    "unit_body",  # best BM25 share among candidates of the same citable unit
    "parent_dense",  # the parent paragraph's cosine (its lead-in), floor when not a candidate
    "parent_body",
    "authority",  # regulation / control list 1.0, guidance lower
    "other_jurisdiction",  # 1 when the question names one jurisdiction and this is another
    "depth",  # labelled ancestors: `§ 742.7` 0, `§ 742.7(a)(1)` 2 (capped at 4, divided by 4)
    "length",  # log of the chunk's characters / 8
    "agreement",  # share of the signals (dense, body, title, any facet) that returned it
    "title_score",  # the unit heading's BM25 score / the question's best heading score
    "definition_match",  # a definition unit, for a question that asks what something means
    "list_match",  # a control-list entry, for a question that asks which entry covers something
    "coverage",  # idf-weighted share of the question's terms in the chunk
    "title_coverage",  # the same, in the unit's heading path and designation
    "unit_coverage",  # the best coverage among candidates of the same citable unit
    "short_title",  # title_coverage for a short question ("What is License Exception TSU?"),
    # where the unit's heading is most of the evidence there is; 0 for longer questions
    "named_in_heading",  # the question uses a code the unit's heading defines: "TSU" and
    # "§ 740.13 Technology and software—unrestricted (TSU)"; a passing mention does not count
    "control_list",  # a control-list entry, whatever the question: with list_match the model can
    # tell "which entry covers …" (entries answer) from "may we ship under …" (rules answer)
    "named_instrument",  # the question names an instrument ("under Regulation (EU) 2021/821")
    # and the passage is of it, not of guidance or another act that discusses it
    "question_form",  # the passage is itself a question (the "Q" of a Q&A paragraph, § 770.3(d)):
    # it resembles an exporter's question in wording, while the answer is its next paragraph
    "raw_dense",  # cosine to the model's own question vector, before the query adapter (floor
    # where that search did not return it): the fusion learns when the adapter misleads
    "raw_dense_rr",  # 1 / (10 + rank) in that list, 0 when absent
    "rule_match",  # a passage that states a licence rule ("a license is required", "may export
    # … under", "authorises"), for a question that asks what may be done with an item
    "item_entry",  # a control-list entry, for that kind of question: the entry says what the item
    # is, the rule decides (names_item)
    "code_in_rule",  # a passage that is not itself a control-list entry names a control-list code
    # the question names: "STA may not be used for items controlled by ECCNs 6A002" for "STA for
    # 6A002 arrays?", where the entry only says what a 6A002 array is
    "sibling_contrast",  # coverage counting only the question's terms that the other candidates
    # of the same unit lack: "(ii) A government end user" against "(iii) A non-government end
    # user" of one section, where the words all siblings share tell nothing apart
    "exception_limit",  # a passage that limits licence exceptions ("may not be used", "is not
    # authorized", under "Restrictions on all License Exceptions"), for a question that asks
    # whether a licence exception is available
)
_HEADING_CODE = re.compile(r"\(([A-Z][A-Z0-9/]{1,6})\)")
_LIST_CODE = re.compile(r"(?<![\w.])\d[A-E]\d{3}(?!\d)")  # an ECCN or Annex I entry: 6A002, 5A001.f.1
_LIMITS_EXCEPTION = re.compile(
    r"\bmay not (?:be )?use\w*|\bis not (?:authori[sz]ed|available|eligible)|\bnot (?:eligible|available) for\b"
    r"|\bineligible\b|\brestrictions? on (?:all |the use of )?licen[cs]e exceptions?\b", re.I)
_ASKS_EXCEPTION = re.compile(r"\bexceptions?\b", re.I)  # "License Exception LVS", "any exception"
_QUESTION_CODE = re.compile(r"\b[A-Z][A-Z0-9]{1,6}\b")
SHORT_QUESTION_WORDS = 12

_ASKS_DEFINITION = re.compile(
    r"\b(?:what (?:is|are|does|do)\b.{0,80}\b(?:mean|means|meaning)|what (?:is|are) (?:an? |the )?[\w\s'‘’\"“”-]{1,40}\?"
    r"|defin(?:e|ed|es|ition)|count(?:s)? as|considered (?:an? )?|qualif(?:y|ies) as|mean by)", re.I)
_ASKS_ENTRY = re.compile(r"\b(?:which|what) (?:\w+ ){0,3}(?:entry|entries|eccn|heading|item|category)"
                         r"|\b(?:control list|annex i|ccl|eccn|classif\w*|listed|covered by|fall under)", re.I)


# "Can we ship our IMSI catcher (5A001.f.1) to …?", "Do we need a licence for 6A003 cameras?":
# the question asks what may be done with an item and names its control-list code to say what
# the item is; the rule that decides is the answer, not the entry. "What does 5A001.j cover?",
# "Is it caught by 6A003?" ask about the entry itself.
_ASKS_PERMISSION = re.compile(r"\blicen[cs]|\bauthori[sz]|\bexception\b|\bship|\bexport|\bsend|\bsell|\bneed\b"
                              r"|\b(?:may|can|could) (?:we|i)\b|\ballowed\b|\bpermit", re.I)
_ASKS_SCOPE = re.compile(r"\bcover(?:s|ed|ing)?\b|\bcaught\b|\bcatch(?:es)?\b|\bfall(?:s|ing)? (?:under|within|in)\b"
                         r"|\b(?:which|what) (?:\w+ ){0,3}(?:entry|entries|eccn|heading|category)\b"
                         r"|\bcontrol(?:s|led)? (?:by|under|in)\b|\bwhat (?:does|do|is|are)\b[^?]{0,60}\b(?:control|cover|mean|include)"
                         r"|\bsame as\b|\bdiffer(?:s|ent|ence)?\s+(?:from|between)\b|\bdifference between\b|\bdefin", re.I)


_STATES_RULE = re.compile(
    r"\b(?:licen[cs]e|authori[sz]ation)s? (?:is |are |shall be |will be |may be )?(?:not )?required"
    r"|\brequires? (?:a |an )?(?:licen[cs]e|authori[sz]ation)"
    r"|\b(?:may|must|shall) (?:not )?(?:be )?(?:export|reexport|transfer|ship|grant|use)\w*"
    r"|\bauthori[sz]es?\b|\bpermits?\b|\bprohibit\w*|\bexempt\w*|\bdoes not apply\b|\bnot subject to\b"
    r"|\blicen[cs]e exception\b|\bgeneral (?:export |licen[cs]e|authori[sz]ation)", re.I)


def states_rule(text: str) -> bool:
    """Does a passage state what needs a licence, what is allowed or exempt, or what is
    prohibited (rather than describe an item or a procedure)?"""
    return bool(_STATES_RULE.search(text))


def limits_exception(text: str, heading_path: str) -> bool:
    """Does a passage (or the heading it sits under) restrict the use of licence exceptions?"""
    return bool(_LIMITS_EXCEPTION.search(text) or _LIMITS_EXCEPTION.search(heading_path))


def list_codes(text: str) -> frozenset[str]:
    """The control-list codes a text names, as their five-character entries (5A001.f.1: 5A001)."""
    return frozenset(_LIST_CODE.findall(text))


def asks_exception(question: str, exception_codes: frozenset[str]) -> bool:
    """Does the question ask about a licence exception, by the word or by its code (LVS, STA)?"""
    return bool(_ASKS_EXCEPTION.search(question)) or bool(set(_QUESTION_CODE.findall(question)) & exception_codes)


def names_item(question: str) -> bool:
    """True when a control-list code in the question describes the item whose export it asks
    about (the entry is background), not the entry it asks about."""
    return bool(_ASKS_PERMISSION.search(question)) and not _ASKS_SCOPE.search(question)


def asks_definition(question: str) -> bool:
    return bool(_ASKS_DEFINITION.search(question))


def asks_entry(question: str) -> bool:
    return bool(_ASKS_ENTRY.search(question))


def is_definition(chunk: Chunk) -> bool:
    """A defined term's own unit: `§ 772.1 “Knowledge”`, `Definition of "intrusion software"`,
    `Article 2(20)` of the Regulation's definitions article."""
    return (bool(chunk.unit) and chunk.unit != chunk.section and chunk.unit.startswith(chunk.section)) \
        or chunk.section.startswith("Definition") or bool(re.match(r"Article 2\(\d+\)", chunk.section))


def _rr(rank: int | None) -> float:
    return 0.0 if rank is None else 1.0 / (10 + rank)


def depth(chunk_id: str, parents: dict[str, str]) -> int:
    """How many labelled ancestors a chunk has in its document (`§ 742.7(a)(1)`: 2)."""
    level, parent = 0, parents.get(chunk_id)
    while parent is not None and level < 4:
        level, parent = level + 1, parents.get(parent)
    return level


def _heading_codes(heading_path: str) -> frozenset[str]:
    """Codes a heading defines in brackets: (TSU), (ENC), (NAC/ACA) gives NAC and ACA."""
    return frozenset(code for group in _HEADING_CODE.findall(heading_path) for code in group.split("/"))


@dataclass(frozen=True)
class Candidates:
    """One question's candidate chunks and their feature rows (in FEATURES order)."""

    ids: list[str]
    matrix: np.ndarray


class ChunkFacts:
    """What the fusion needs of each chunk that no question changes — its unit, authority,
    depth, length, kind, whether it states a rule — computed once per index generation, so
    that describing a question's ~600 candidates is array arithmetic, not a loop over them."""

    # Columns of `matrix`, one row per chunk.
    AUTHORITY, DEPTH, LENGTH, DEFINITION, CONTROL_LIST, QUESTION_FORM, STATES_RULE, LIMITS_EXCEPTION = range(8)

    def __init__(self, by_id: dict[str, Chunk], *, unit_of: Callable[[Chunk], tuple[str, str]],
                 parents: dict[str, str], authority: dict[str, float]) -> None:
        units: dict[tuple[str, str], int] = {}
        self.row: dict[str, int] = {}
        self.unit = np.zeros(len(by_id), dtype=np.int64)
        self.matrix = np.zeros((len(by_id), 8), dtype=np.float32)
        self.jurisdiction: list[str] = []
        self.cite_as: list[str] = []
        self.heading_codes: list[frozenset[str]] = []  # codes the unit's heading defines: (TSU)
        self.list_codes: list[frozenset[str]] = []  # control-list codes the text names
        self.parents = parents
        for i, (cid, chunk) in enumerate(by_id.items()):
            self.row[cid] = i
            self.unit[i] = units.setdefault(unit_of(chunk), len(units))
            self.matrix[i] = (authority.get(chunk.doc_type, 0.9), depth(cid, parents) / 4,
                              math.log(max(len(chunk.text), 1)) / 8, is_definition(chunk),
                              chunk.doc_type == "control_list", chunk.text.rstrip().endswith("?"),
                              states_rule(chunk.text), limits_exception(chunk.text, chunk.heading_path))
            self.jurisdiction.append(chunk.jurisdiction)
            self.cite_as.append(chunk.cite_as)
            self.heading_codes.append(_heading_codes(chunk.heading_path))
            self.list_codes.append(list_codes(chunk.text))
        # Row-space arrays, so that a question's candidates are described by gathering rows.
        self.parent_row = np.array([self.row.get(parents.get(cid, ""), -1) for cid in by_id], dtype=np.int64)
        self.jurisdiction_names = sorted(set(self.jurisdiction))
        self.jurisdiction_id = np.array([self.jurisdiction_names.index(j) for j in self.jurisdiction], dtype=np.int64)
        self.size = len(by_id)
        # The licence exceptions' own codes, as Part 740's headings define them (LVS, TSU, STA, ACE).
        self.exception_codes = frozenset(code for codes, cite_as in zip(self.heading_codes, self.cite_as)
                                         if "Part 740" in cite_as for code in codes)


def _unit_max(values: np.ndarray, units: np.ndarray, start: float) -> np.ndarray:
    """Each candidate's best value among the candidates of its unit (small-to-big)."""
    keys, inverse = np.unique(units, return_inverse=True)
    best = np.full(len(keys), start, dtype=np.float64)
    np.maximum.at(best, inverse, values)
    return best[inverse]


class Coverage(NamedTuple):
    """The question's terms in the candidates: idf-weighted shares in each chunk (`body`) and in its
    unit's heading (`title`), and the terms' idf with which chunk holds which (candidates x terms)."""

    body: np.ndarray
    title: np.ndarray
    weights: np.ndarray
    present: np.ndarray


def _sibling_contrast(units: np.ndarray, weights: np.ndarray, present: np.ndarray, coverage: np.ndarray) -> np.ndarray:
    """Coverage with each question term weighted by the share of the other candidates of the same
    unit that lack it: a term all siblings have counts for nothing, a term only this one has counts
    in full (and a unit's only candidate keeps its coverage). `present` is candidates x terms."""
    if not weights.sum():
        return coverage
    keys, inverse = np.unique(units, return_inverse=True)
    held = np.zeros((len(keys), present.shape[1]))
    np.add.at(held, inverse, present)
    others = np.maximum(np.bincount(inverse)[inverse] - 1, 0)[:, None]
    spread = np.where(others > 0, (held[inverse] - present) / np.maximum(others, 1), 0.0)
    return (present * (1 - spread)) @ weights / weights.sum()


def candidate_features(
    facts: ChunkFacts,
    dense: Sequence[tuple[str, float]],
    body: Sequence[tuple[str, float]],
    title: dict[str, int],
    title_score: dict[str, float],
    facets: Sequence[Sequence[tuple[str, int]]],
    *,
    raw: Sequence[tuple[str, float]] = (),
    named: list[str],
    question: str,
    coverage: Callable[[list[str]], Coverage],
) -> Candidates:
    """Feature rows for the union of every signal's candidates. Each signal is scattered into
    an array over all chunk rows once and gathered at the candidates' rows (and their parents'):
    array arithmetic, not a dictionary lookup per candidate and feature."""
    row = facts.row
    dense_sim = dict(dense)
    floor = min(dense_sim.values(), default=0.0)
    best = max(dense_sim.values(), default=0.0)
    top_body = max((s for _, s in body), default=0.0) or 1.0
    raw = raw or dense
    raw_floor = min((s for _, s in raw), default=0.0)
    ids = list(dict.fromkeys([*dense_sim, *(cid for cid, _ in raw), *(cid for cid, _ in body), *title,
                              *(cid for ranking in facets for cid, _ in ranking)]))
    ids = [cid for cid in ids if cid in row]
    if not ids:
        return Candidates([], np.zeros((0, len(FEATURES)), dtype=np.float32))
    covered = coverage(ids)
    body_cover = np.asarray(covered.body, dtype=np.float64)
    title_cover = np.asarray(covered.title, dtype=np.float64)
    rows = np.array([row[cid] for cid in ids], dtype=np.int64)
    static = facts.matrix[rows]
    units = facts.unit[rows]
    parent_rows = facts.parent_row[rows]
    has_parent = parent_rows >= 0

    def scatter(pairs: Sequence[tuple[str, float]], default: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """(value per chunk row, whether the signal returned it) for a ranked (id, value) list."""
        values = np.full(facts.size, default, dtype=np.float64)
        present = np.zeros(facts.size, dtype=bool)
        known = [(row[cid], v) for cid, v in pairs if cid in row]
        if known:
            where = np.fromiter((r for r, _ in known), dtype=np.int64, count=len(known))
            values[where] = np.fromiter((v for _, v in known), dtype=np.float64, count=len(known))
            present[where] = True
        return values, present

    def rr(pairs: Sequence[tuple[str, object]]) -> np.ndarray:
        """1 / (10 + rank) per chunk row for a ranked list, 0 where absent."""
        return scatter([(cid, 1.0 / (10 + rank)) for rank, (cid, _) in enumerate(pairs)])[0]

    def parent_or_own(values: np.ndarray, own: np.ndarray) -> np.ndarray:
        return np.where(has_parent, values[np.where(has_parent, parent_rows, 0)], own)

    dense_all, in_dense = scatter(dense, floor)
    body_all, in_body = scatter([(cid, s / top_body) for cid, s in body])
    facet_all = np.zeros(facts.size, dtype=np.float64)
    in_facet = np.zeros(facts.size, dtype=bool)
    for ranking in facets:
        values, present = scatter([(cid, 1.0 / (10 + rank)) for cid, rank in ranking])
        facet_all += values
        in_facet |= present
    # Every chunk of a title shares the title's rank.
    title_rank, in_title_all = scatter([(cid, 1.0 / (10 + rank)) for cid, rank in title.items()])
    sim, share, facet = dense_all[rows], body_all[rows], facet_all[rows]
    in_title = in_title_all[rows].astype(np.float64)
    agreement = (in_dense[rows].astype(np.float64) + in_body[rows].astype(np.float64)
                 + in_title + in_facet[rows].astype(np.float64)) / 4
    top_title = max(title_score.values(), default=0.0) or 1.0
    definition, entry = asks_definition(question), asks_entry(question)
    short = len(question.split()) <= SHORT_QUESTION_WORDS
    codes = set(_QUESTION_CODE.findall(question))
    instruments = tuple(instruments_named(question))
    permission = names_item(question)
    named_codes = list_codes(question)
    exception = asks_exception(question, facts.exception_codes)
    control_list = static[:, ChunkFacts.CONTROL_LIST]
    zeros = np.zeros(len(ids), dtype=np.float64)

    def per_row(test: Callable[[int], bool], when: bool) -> np.ndarray:
        return np.array([test(r) for r in rows.tolist()], dtype=np.float64) if when else zeros

    other = zeros
    if len(named) == 1:
        wanted = facts.jurisdiction_names.index(named[0]) if named[0] in facts.jurisdiction_names else -1
        other = (facts.jurisdiction_id[rows] != wanted).astype(np.float64)
    contrast = _sibling_contrast(units, covered.weights, covered.present, body_cover)
    matrix = np.column_stack([
        sim,
        best - sim,
        rr(dense)[rows],
        share,
        rr(body)[rows],
        title_rank[rows],
        facet,
        _unit_max(sim, units, floor),
        _unit_max(share, units, 0.0),
        parent_or_own(dense_all, sim),
        parent_or_own(body_all, share),
        static[:, ChunkFacts.AUTHORITY],
        other,
        static[:, ChunkFacts.DEPTH],
        static[:, ChunkFacts.LENGTH],
        agreement,
        scatter(list(title_score.items()))[0][rows] / top_title,
        static[:, ChunkFacts.DEFINITION] * definition,
        control_list * entry,
        body_cover,
        title_cover,
        _unit_max(body_cover, units, 0.0),
        title_cover * short,
        per_row(lambda r: bool(codes & facts.heading_codes[r]), bool(codes)),
        control_list,
        per_row(lambda r: facts.cite_as[r].startswith(instruments), bool(instruments)),
        static[:, ChunkFacts.QUESTION_FORM],
        scatter(raw, raw_floor)[0][rows],
        rr(raw)[rows],
        static[:, ChunkFacts.STATES_RULE] * permission,
        control_list * permission,
        per_row(lambda r: bool(named_codes & facts.list_codes[r]), bool(named_codes)) * (1 - control_list),
        contrast,
        static[:, ChunkFacts.LIMITS_EXCEPTION] * exception,
    ]).astype(np.float32)
    return Candidates(ids, matrix)


@dataclass(frozen=True)
class LearnedFusion:
    """A logistic model over FEATURES: standardisation, weights and bias as plain numbers."""

    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float

    def __post_init__(self) -> None:
        if self.features != FEATURES:
            raise ValueError("the learned fusion was trained on other features; run python -m evals.tune --write")

    def score(self, matrix: np.ndarray) -> np.ndarray:
        """P(the chunk overlaps an answering unit), per row."""
        if not len(matrix):
            return np.zeros(0)
        z = (matrix - np.asarray(self.mean)) / np.asarray(self.scale)
        return 1.0 / (1.0 + np.exp(-(z @ np.asarray(self.weights) + self.bias)))

    @classmethod
    def from_dict(cls, data: dict) -> LearnedFusion:
        return cls(tuple(data["features"]), tuple(data["mean"]), tuple(data["scale"]),
                   tuple(data["weights"]), float(data["bias"]))

    def to_dict(self) -> dict:
        return {"features": list(self.features), "mean": [round(x, 6) for x in self.mean],
                "scale": [round(x, 6) for x in self.scale], "weights": [round(x, 6) for x in self.weights],
                "bias": round(self.bias, 6)}
