"""Evidence selection: which retrieved units carry the answer, and whether any does.

Retrieval ranks ten or more units; an answer should cite the two to four that answer. A unit
is cited when the question named it, or when it is close to the best unit on both the fused
score (the learned fusion's probability) and the embedding similarity — a unit whose only link
to the question is a shared word ranks on BM25 alone and fails the similarity test. The
thresholds are relative to the best unit (so they do not depend on how wordy a question is)
plus an absolute floor on the best unit's similarity, below which the corpus is taken not to
answer. They are chosen by
cross-validation on the dev set (`python -m evals.tune`), stored in assistant/fusion.json.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from assistant.definitions import asked_phrases, rest_of_question, terms_defined_by
from assistant.references import instruments_named
from assistant.retrieval import FUSION, Passage, SearchResult, evidence, jurisdictions_for, jurisdictions_named, tuned
from assistant.sentences import content_terms, heading_text
from indexer.records import Chunk


# The leading units whose best similarity to the question is the answer's confidence.
LEADING = 3
# At most this many other content words beside the asked term: a definition question only.
DEFINITION_ONLY_REST = 2


def heading_only(chunk: Chunk) -> bool:
    """Does the chunk say nothing but its own heading (or a reserved slot, an amendment note)?"""
    return heading_text(chunk.text, chunk.unit_title, control_list=chunk.doc_type == "control_list")


def says_something(passage: Passage) -> bool:
    """A unit retrieved only by its heading chunks ("## PART 6 — …") is not evidence."""
    return not all(heading_only(c) for c in passage.chunks)


@dataclass(frozen=True)
class SelectionPolicy:
    score_ratio: float = 0.6  # a unit's fused score against the best unit's
    similarity_margin: float = 0.12  # how far below the best unit's similarity a unit may be
    max_units: int = 3  # cited units in the usual case
    max_units_multi: int = 4  # when the question names several jurisdictions
    min_confidence: float = 0.35  # the confidence below which the corpus does not answer
    # A jurisdiction the answer adds by default (EU and US for a licence question that names
    # none) gets its own block only with this share of the best unit's fused score: that
    # jurisdiction's best unit may be merely the least bad of its kind (a definition sharing one
    # word). A jurisdiction the question names always gets its block. Chosen on dev by a sweep
    # (0 to 0.3; 0.15 best on P + R + 2·abstention).
    block_ratio: float = 0.15

    @classmethod
    def load(cls, path: Path = FUSION) -> SelectionPolicy:
        return tuned(cls, "selection", path)


@dataclass
class Selection:
    cited: list[Passage]  # best first
    confidence: float  # the best similarity of the leading units to the question (1.0 for a named unit)


_SOFTWARE = re.compile(r"\b(?:software|apps?|applications? software|programs?|firmware)\b", re.I)
_EQUIPMENT_ENTRY = re.compile(r"^(ECCN |)(\d)A(\d{3})$|^(\d)\.A\.(\d+)$")


def _software_twin(passage: Passage, candidates: list[Passage]) -> Passage | None:
    """The software entry (category D) of the same list and number as an equipment entry (A):
    ECCN 5D980 for ECCN 5A980, 5.D.1 for 5.A.1."""
    match = _EQUIPMENT_ENTRY.match(passage.first.unit or passage.first.section)
    if match is None:
        return None
    twin = f"{match[1]}{match[2]}D{match[3]}" if match[2] else f"{match[4]}.D.{match[5]}"
    return next((c for c in candidates if c.first.doc_id == passage.first.doc_id
                 and (c.first.unit or c.first.section) == twin), None)


# Jurisdictions whose own law a unit states; the ECHRI Code (multilateral) binds none of them and
# is asked of any signatory.
_NATIONAL = {"US", "EU", "UK", "Wassenaar"}


def _own_jurisdiction(cited: list[Passage], fuzzy: list[Passage], query: str) -> list[Passage]:
    """The cited units of the one jurisdiction the question names (all of them when it names none
    or several); its best retrieved unit when none of them was cited."""
    named = jurisdictions_named(query)
    if len(named) != 1:
        return cited
    foreign = [p for p in cited if p.first.jurisdiction in _NATIONAL and p.first.jurisdiction != named[0]]
    if not foreign:
        return cited
    kept = [p for p in cited if p not in foreign]
    if not kept:
        own = next((p for p in fuzzy if p.first.jurisdiction == named[0]), None)
        return [own] if own is not None else cited
    return kept


_AUTHORISATION = re.compile(r"^EU(0\d\d)\b")


# What every Union general export authorisation's title says ("Annex II Section B: EXPORTS OF
# CERTAIN DUAL-USE ITEMS TO CERTAIN DESTINATIONS"): not what one of them is for.
_AUTHORISATION_FRAME = content_terms("annex ii section export exports certain dual-use items destinations after "
                                     "of software and technology including")
# The question asks about general authorisations as such ("a general authorisaton", "UGEA").
_ASKS_AUTHORISATIONS = re.compile(r"\bgeneral\s+(?:export\s+)?authori[sz]\w*|\bUGEAs?\b", re.I)


def _asked_authorisation(passage: Passage, asked: set[str]) -> bool:
    """Does the question (its content terms, `asked`) describe what this general authorisation is
    for ("send the repaired unit back": EU003, EXPORT AFTER REPAIR/REPLACEMENT), in its title's
    own words?"""
    return bool((content_terms(passage.first.unit_title) - _AUTHORISATION_FRAME) & asked)


def _without(cited: list[Passage], unwanted: Callable[[Passage], bool],
             fuzzy: list[Passage] | None = None) -> list[Passage]:
    """The cited units but the unwanted; when none is left, the best retrieved unit that is not
    unwanted (given `fuzzy`), else the citations as they were."""
    kept = [p for p in cited if not unwanted(p)]
    if kept:
        return kept
    other = next((p for p in fuzzy or [] if not unwanted(p)), None)
    return [other] if other is not None else cited


def _only_named_authorisations(cited: list[Passage], fuzzy: list[Passage], result: SearchResult) -> list[Passage]:
    """"Can we use EU007 for the source code?": another Union general export authorisation (EU005's
    human-rights exclusion shares the question's words) is an alternative the question did not ask
    about. Where it names one, the others drop out (measured: none of 59 such dev citations was gold).
    Where it names none, one is cited only for what its title says it is for: EU002's exclusions
    ("for a military end-use … in a country subject to an arms embargo") share a catch-all
    question's words, not its subject (measured: 1 of 58 such dev citations was gold, and 0 of 26
    on the frozen split and the unread sets)."""
    named = {r.label.upper() for r in result.references if r.kind == "authorisation"}
    if not named and _ASKS_AUTHORISATIONS.search(result.query):
        return cited

    asked = content_terms(result.query)

    def unasked(p: Passage) -> bool:
        m = _AUTHORISATION.match(p.first.unit or p.first.section)
        return bool(m) and f"EU{m.group(1)}" not in named and (bool(named) or not _asked_authorisation(p, asked))

    # Where only unasked authorisations were close to a question that names none, the best unit
    # that is not one answers instead.
    return _without(cited, unasked, None if named else fuzzy)


_CATEGORY_TITLE = re.compile(r"^Category ([A-Z]) goods$")
_CATEGORY_NAMED = re.compile(r"\bcategory\s+([A-C])\b", re.I)


def _only_named_categories(cited: list[Passage], result: SearchResult) -> list[Passage]:
    """"Does the trade control prohibition on Category B goods catch a bank that only finances?":
    the UK Order's articles on the other categories (Article 23, "Category C goods") state another
    category's rules. Where the question names categories, units titled for another drop out
    (counted first: none of 10 such citations on dev and the unread sets was gold)."""
    named = {m.upper() for m in _CATEGORY_NAMED.findall(result.query)}
    if not named:
        return cited

    def other_category(p: Passage) -> bool:
        m = _CATEGORY_TITLE.match(p.first.unit_title or "")
        return bool(m) and m.group(1) not in named

    return _without(cited, other_category)


# A label under which this many terms are defined is a glossary (the UK Order's Article 2(1) has
# dozens, § 772.1 hundreds; an EU Article 2 point defines one).
GLOSSARY_TERMS = 5


def _glossaries(chunks: Iterable[Chunk]) -> set[tuple[str, str]]:
    """Units (document, label) that define many terms, one per paragraph: the UK Order's Article
    2(1), § 772.1. Citing one is citing the glossary, not a rule."""
    terms: dict[tuple[str, str], set[str]] = {}
    for chunk in chunks:
        terms.setdefault((chunk.doc_id, chunk.section), set()).update(terms_defined_by(chunk))
    return {key for key, found in terms.items() if len(found) >= GLOSSARY_TERMS}


def _glossary_last(cited: list[Passage], result: SearchResult) -> list[Passage]:
    """The answer opens with the rule, not the glossary: "Is our export to the reseller still
    prohibited under the 2008 Order?" leads with Article 4(3), and Article 2(1)'s definition of
    "dual-use" (retrieved on a shared word) follows it, unless the question asks what a term
    means. Ordered, not dropped: dev has 30 such gold citations; none of 33 on the unread sets
    was gold."""
    if result.defining or result.snapshot is None:
        return cited
    glossaries = result.snapshot.derive("glossaries", lambda: _glossaries(result.snapshot.chunks))
    return sorted(cited, key=lambda p: (p.first.doc_id, p.first.section) in glossaries)  # stable


def select(result: SearchResult, policy: SelectionPolicy) -> Selection:
    passages = result.passages
    if not passages:
        return Selection([], 0.0)
    named = [p for p in passages if p.exact]
    # A unit retrieved only by its heading is not evidence: quoting "PART 6 — OFFENCES, …"
    # answers nothing (its paragraphs compete on their own).
    fuzzy = [p for p in passages if not p.exact and says_something(p)]
    best = fuzzy[0] if fuzzy else None
    # The best similarity among the leading units: the fused ranking may put first a unit that its
    # heading or a parent's words found and whose own cosine is low ("(5) Submission of a …
    # manuscript" at 0.25 under § 734.7(a), with the third unit at 0.56). While a warm start is
    # still storing vectors some have none yet (ranked on their words).
    if named:
        confidence = 1.0
    else:
        confidence = max((p.dense for p in fuzzy[:LEADING] if p.dense is not None), default=0.0)
    jurisdictions = jurisdictions_for(result.query)
    limit = policy.max_units_multi if len(jurisdictions) >= 2 else policy.max_units
    # "What are 'dual-use items' under Regulation (EU) 2021/821?" asks for the definition and
    # nothing else: it is the answer, and units that only share the term's words are not.
    if result.defining and not named and \
            len(rest_of_question(result.query, asked_phrases(result.query))) <= DEFINITION_ONLY_REST:
        defining = set(result.defining)
        own = [p for p in passages if any(c.chunk_id in defining for c in p.chunks)]
        if own:
            return Selection(own[:limit], confidence)
    # The named units' parts by their own evidence ("Is a logical-extraction-only kit caught by
    # 5A004.b?": the Note that answers, not the entry and each of its items beside it). Where no
    # part has evidence of its own ("Explain 5A001.j") all are cited, up to the limit.
    top = evidence(named[0].score) if named else 0.0
    cited: list[Passage] = [p for p in named if top <= 0 or evidence(p.score) >= policy.score_ratio * top][:limit]
    if best is None:
        return Selection(cited, confidence)
    best_similarity = best.dense or 0.0

    def close(p: Passage, ratio: float) -> bool:
        return p.score >= ratio * best.score and (p.dense or 0.0) >= best_similarity - policy.similarity_margin

    if not named:
        cited.append(best)
    # When the question names units, others join only if nearly as close in meaning.
    ratio = policy.score_ratio if not named else max(policy.score_ratio, 0.9)
    # Several jurisdictions named: the best close unit of each first, so none is crowded out.
    if len(jurisdictions) >= 2:
        floor = policy.block_ratio * best.score if not jurisdictions_named(result.query) else 0.0
        for jurisdiction in jurisdictions:
            if any(p.first.jurisdiction == jurisdiction for p in cited):
                continue
            candidate = next((p for p in fuzzy if p.first.jurisdiction == jurisdiction), None)
            if candidate is not None and len(cited) < limit and \
                    candidate.score >= floor and \
                    (candidate.dense or 0.0) >= best_similarity - 2 * policy.similarity_margin:
                cited.append(candidate)
    for p in fuzzy:
        if len(cited) >= limit:
            break
        if p not in cited and close(p, ratio):
            cited.append(p)
    # "Which ECCN covers the covert bugs and the companion app that records them?": the equipment
    # entry cited (ECCN 5A980) and the software entry of the same number (5D980), retrieved too.
    # Only the best equipment entry's: the twin takes the last slot if none is free.
    pair = next(((p, twin) for p in cited if (twin := _software_twin(p, fuzzy)) is not None), None) \
        if _SOFTWARE.search(result.query) else None
    if pair is not None:
        equipment, twin = pair
        if twin not in cited and (len(cited) < limit or cited[-1] is not equipment):
            cited = (cited if len(cited) < limit else cited[:-1]) + [twin]
    # "Under Regulation (EU) 2021/821, …": the answer cites the instrument the question names —
    # its best-ranked unit — when another document (guidance, a notice) leads, even if a unit of
    # the instrument that shares only words (a general authorisation) made the cut. Ranked, not
    # the highest cosine: one cosine is a blunter judgment than the fusion's (Article 9(1) over Article 5(1) for the licence question).
    instruments = tuple(instruments_named(result.query))
    for instrument in instruments:
        own = [p for p in fuzzy if p.first.cite_as.startswith(instrument)]
        if not own or not cited or cited[0].first.cite_as.startswith(instrument):
            continue
        closest = own[0]
        if closest not in cited:
            cited = (cited if len(cited) < limit else cited[:-1]) + [closest]
    # "Is our DPI box caught by the EU list?": a unit of another jurisdiction's law (the CCL's ECCN
    # 5A001 beside Annex I's 5A001.j) answers a question the asker did not ask. Where the question
    # names one jurisdiction, units of the others drop out (measured: 60 of 66 such dev citations
    # were not gold), even a unit it names by a code that several lists share.
    cited = _own_jurisdiction(cited, fuzzy, result.query)
    cited = _only_named_authorisations(cited, fuzzy, result)
    cited = _only_named_categories(cited, result)
    # ... and opens with it: the instrument's own words first, guidance about it after.
    order = {id(p): i for i, p in enumerate(passages)}
    cited.sort(key=lambda p: (bool(instruments) and not p.first.cite_as.startswith(instruments), order[id(p)]))
    return Selection(_glossary_last(cited, result), confidence)
