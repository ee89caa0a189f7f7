"""Whether the corpus answers: the three kinds of "no", as an ordered list of checks.

A false premise (a named unit that does not exist), out of scope (not export control) and out
of corpus (export control, but the bundled texts do not hold the answer). Each check looks at
one question's search result and selected evidence and returns (kind, reason) or None; the first
that says "no" decides. The order is the policy: checks in `ALWAYS` apply even when the question
names a unit that exists (what an unbundled list says of a named entry is still not here); those
in `UNLESS_NAMED` only when it names none (a named unit is evidence enough that the question is
about export control and about the bundled texts).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from assistant.binding import non_binding_premise
from assistant.bundled import NotBundled, category_gap, not_bundled
from assistant.definitions import terms_defined_by
from assistant.evidence import Selection
from assistant.not_bundled import (NotHeld, asked_only_about, asks_about_events, asks_besides_countries,
                                   asks_for_countries, foreign_rules, missing_for, missing_sections_asked, names_countries,
                                   names_held_instrument)
from assistant.question_text import asked_sentences
from assistant.references import Reference, find_references
from assistant.retrieval import SearchResult, exception_codes
from assistant.scope import ScopeCheck
from assistant.sentences import content_terms

Verdict = tuple[str, str] | None


@dataclass
class Case:
    """One question as the checks see it."""

    result: SearchResult
    selection: Selection
    unheld: list[NotHeld]  # instruments the question names that the index does not hold
    scope: ScopeCheck
    in_scope_similarity: float
    min_confidence: float  # the best unit's similarity below which the corpus does not answer
    gaps: list[NotBundled] = field(init=False)  # named units a partial copy leaves out
    resolved_any: bool = field(init=False)  # the question names a unit that exists (or an exception by its code)

    def __post_init__(self) -> None:
        result = self.result
        self.gaps = not_bundled(result.snapshot, result.unresolved) if result.unresolved else []
        # "May our 5D002 suite go under License Exception ENC to a country not listed in supplement
        # no. 3 to part 740?" names § 740.17 by its code: the supplement is the premise's gap.
        codes = exception_codes(result.snapshot)
        self.resolved_any = any(h.exact is not None for h in result.hits) or any(
            r.kind == "heading_code" and r.label.upper() in codes for r in result.references)


def false_premise(case: Case) -> Verdict:
    """A named unit that does not exist is the question's premise, even beside one that does
    ("Article 37 of 2021/821 lets SMEs skip the Article 5 notification…"): answering from
    Article 5 would pass over the false part. One left out of a partial copy is a gap."""
    absent = [r for r in case.result.unresolved if all(g.reference != r for g in case.gaps)]
    if not absent:
        return None
    names = ", ".join(r.display for r in absent)
    return ("false-premise", f"the indexed documents contain no unit named {names}; check the reference — it "
            "does not exist in the bundled text of that instrument")


def non_binding(case: Case) -> Verdict:
    """Penalties or binding obligations asked of an instrument that has none (`binding.py`)."""
    found = non_binding_premise(case.result.query)
    if not found:
        return None
    what = "; ".join(f"{n.name} is {n.nature}" for n in found)
    return ("false-premise", f"the question ascribes penalties or binding obligations to an instrument that sets "
            f"none: {what}. Penalties for export-control offences are set by national law — in the bundled texts, "
            "50 U.S.C. § 4819 (ECRA) for the US, Article 25 of Regulation (EU) 2021/821 (each Member State lays "
            "down its own) and Part 6 of the UK Export Control Order 2008")


def asked_gap(case: Case) -> Verdict:
    """A unit left out of a partial copy, asked about and beside no unit that exists. One the
    question only states a fact about ("4A994 is listed in supplement no. 2 to part 744. Do we
    need a licence because the buyer is the military?") leaves the asked rule to answer, with a
    notice of the gap; a gap the question does not name (a definition's pointer) is the answer's,
    unless a cited unit's own title is about the term (`answered_beside`)."""
    result = case.result
    named = {r.label for r in result.references}
    stated = named - {r.label for r in find_references(asked_sentences(result.query))}
    asked = [g for g in case.gaps if g.reference.label not in stated]
    if any(g.reference.label not in named for g in asked) and answered_beside(case):
        asked = [g for g in asked if g.reference.label in named]
    if asked and (not case.resolved_any or leads_with_gap(asked_sentences(result.query), asked, result.references)):
        return "out-of-corpus", "; ".join(not_bundled_text(g) for g in asked)
    return None


def leads_with_gap(asked: str, gaps: list[NotBundled], references: list[Reference]) -> bool:
    """"What licensing policy does § 742.13 apply to devices controlled under ECCN 5A980?" asks
    what the unbundled section says; the entry named after it only says which items. The first
    unit an asking sentence names is what it asks about ("Does ECCN 5A980 need a licence under
    § 742.13?" asks about the entry, which answers with the gap as a notice)."""
    gap_labels = {g.reference.label for g in gaps}
    placed = sorted((at, r.label) for r in references if (at := _position(asked, r.label)) is not None)
    return bool(placed) and placed[0][1] in gap_labels


def _position(text: str, label: str) -> int | None:
    """Where a reference stands in the question, found by its number ("742.13", "5a980",
    "article 5"); None when it is not written there."""
    core = re.sub(r"^(?:§|eccn\s+)", "", label).split("(")[0]
    found = re.search(r"(?<![\w.])" + re.escape(core).replace(r"\ ", r"\s+") + r"(?![\w])", text, re.I)
    return found.start() if found else None


def answered_beside(case: Case) -> bool:
    """"Does storing encrypted data on a foreign cloud server count as an export?": the EAR's
    definition only points to § 734.13, which is not bundled, but § 734.18 ("Activities that are
    not exports, reexports, or transfers") is cited, and a unit whose own title is about the
    defined term answers what the law says of the case; the gap becomes the answer's notice.
    "Does it still count as 'fundamental research'?" has no such unit (§ 734.8 is the gap)."""
    result = case.result
    defining = set(result.defining)
    wanted = [terms for cid in result.defining for term in terms_defined_by(result.snapshot.by_id[cid])
              if (terms := content_terms(term))]
    return any(any(terms <= content_terms(p.first.unit_title or "") for terms in wanted)
               for p in case.selection.cited if not any(c.chunk_id in defining for c in p.chunks))


def nothing_found(case: Case) -> Verdict:
    return None if case.result.hits else ("out-of-corpus", "nothing in the indexed documents matches the question")


def unbundled_list(case: Case) -> Verdict:
    """What an unbundled list says, even of a named entry ("is there an X under CC Column 1 for
    Vietnam for 3A981?"): the entry gives its reasons for control, the chart the answer."""
    missing = missing_for(case.result.query)
    if not missing:
        return None
    names = "; ".join(with_url(m.name, m.url) for m in missing)
    return "out-of-corpus", f"the answer is in {names}, which the bundled corpus does not hold"


def unbundled_section_content(case: Case) -> Verdict:
    """What only a missing section says, even beside a named entry ("What is BIS's licensing
    policy for covert interception devices (5A980 / 5A001.f.1)?" is § 742.13's)."""
    asked = missing_sections_asked(case.result.query)
    if not asked:
        return None
    return "out-of-corpus", "; ".join(
        f"the question asks for {m.topic}, which {m.label} sets out; it is not in the bundled copy of "
        f"{m.instrument}{official(m.url)}" for m in asked)


def only_about_unheld(case: Case) -> Verdict:
    """"Article 15 of the EU dual-use regulation cites Common Position 2008/944. What do that
    Common Position's criteria say?": a unit or instrument named where the question states its
    premise does not make it a question about the held text."""
    if case.unheld and asked_only_about(case.result.query, case.unheld):
        return "out-of-corpus", unheld_text(case.unheld)
    return None


def events(case: Case) -> Verdict:
    """What an authority did, or how many, even beside a named unit."""
    result = case.result
    if asks_about_events(result.query, [p.first.text for p in result.passages[:5]]):
        return ("out-of-corpus", "the question asks what happened, or how many, in a period that no indexed "
                "passage mentions; the bundled texts are laws, lists and guidance, not records of events or "
                "statistics")
    return None


def countries(case: Case) -> Verdict:
    """Which countries ("which Member States have notified measures under Article 9?"), when no
    passage that answers names any, and the question asks nothing else in a sentence of its own
    (then the list is the answer's notice, `countries_left_out`)."""
    if (countries_left_out(case.result.query, (p.text for p in case.selection.cited))
            and not asks_besides_countries(case.result.query)):
        return ("out-of-corpus", "the question asks which countries, and no passage that answers it names "
                "any; the bundled texts do not hold that list")
    return None


def countries_left_out(question: str, texts: Iterable[str]) -> bool:
    """The question asks which countries, and none of these texts (the cited passages when deciding
    to decline, the quotes when adding the notice) names any."""
    return asks_for_countries(question) and not names_countries(texts)


def out_of_scope(case: Case) -> Verdict:
    result = case.result
    if case.scope.out_of_scope(result.query, case.selection.confidence, case.in_scope_similarity,
                               [h.chunk.text for h in result.hits], exception_codes(result.snapshot)):
        return ("out-of-scope", "the question does not appear to be about export controls, which is all "
                "this corpus covers")
    return None


def unheld_instrument(case: Case) -> Verdict:
    if case.unheld and not names_held_instrument(case.result.query, case.unheld):
        return "out-of-corpus", unheld_text(case.unheld)
    return None


def foreign(case: Case) -> Verdict:
    named = foreign_rules(case.result.query)
    if not named:
        return None
    return ("out-of-corpus", f"the question asks about the export-control rules of {' and '.join(named)}; "
            "the bundled corpus holds US, EU, UK and Wassenaar texts only, not other countries' own laws "
            "or national control lists")


def wassenaar_category(case: Case) -> Verdict:
    gap = category_gap(case.result.snapshot, case.result.query)
    return ("out-of-corpus", gap) if gap else None


def too_far(case: Case) -> Verdict:
    if case.selection.confidence < case.min_confidence or not case.selection.cited:
        return ("out-of-corpus", "no passage in the indexed documents is close enough to the question to "
                "answer it; the bundled (partial) texts may not hold the provision that does")
    return None


ALWAYS: tuple[Callable[[Case], Verdict], ...] = (
    false_premise, non_binding, asked_gap, nothing_found, unbundled_list, unbundled_section_content,
    only_about_unheld, events, countries)
UNLESS_NAMED: tuple[Callable[[Case], Verdict], ...] = (
    out_of_scope, unheld_instrument, foreign, wassenaar_category, too_far)


def verdict(case: Case) -> Verdict:
    """(kind, reason) from the first check that says the corpus does not answer, else None."""
    for check in ALWAYS:
        found = check(case)
        if found:
            return found
    if case.resolved_any:
        return None
    for check in UNLESS_NAMED:
        found = check(case)
        if found:
            return found
    return None


def not_bundled_text(gap: NotBundled) -> str:
    source = official(gap.url)
    if not gap.held:
        return f"{gap.reference.display} is in {gap.where}, which the indexed documents do not include{source}"
    return (f"{gap.reference.display} is not in the bundled copy of {gap.where}, which holds selected "
            f"parts only{source}")


def official(url: str) -> str:
    return f" (official text: {url})" if url else ""


def unheld_text(unheld: list[NotHeld]) -> str:
    names = "; ".join(with_url(n.name, n.url) for n in unheld)
    return f"the question asks about {names}, which the indexed documents do not hold"


def with_url(name: str, url: str) -> str:
    """`name (url)`, or the name alone when RegQA knows no address for it."""
    return f"{name} ({url})" if url else name
