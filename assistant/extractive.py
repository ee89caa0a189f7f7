"""Grounded extractive answers: the law's own words first, then the other units that carry
the answer, one block per jurisdiction. No language model involved; every quote is an exact
substring of a cited passage.

A quote must read correctly on its own: a sentence that starts mid-structure ("does not
control …", "(iii) …") is preceded by its unit's lead-in where one was retrieved, or passed
over for another sentence of the unit.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache

from assistant.citations import citation_for
from assistant.definitions import asked_phrases, defined_in, normalise
from assistant.entry_notes import EXCLUDES
from assistant.records import Citation
from assistant.question_text import question_parts
from assistant.quote_ranking import QuoteModel, length_feature
from assistant.references import Reference, find_references
from assistant.rerank import list_codes, states_rule
from assistant.retrieval import (Passage, asks_duration, asks_only_for, evidence, licence_question,
                                 states_duration, unit_of)
from assistant.sentences import MIN_SENTENCE_CHARS, content_terms, heading_text, sentence_spans
from assistant.support import INSTRUCTION
from assistant.vocabulary import expand
from indexer.records import Chunk

_NOT_RULE_TEXT = re.compile(
    r"^\[\d+ FR \d+|^Link to an amendment|^\(Spelling|^Note on provenance|^\(referred to in point"
    r"|^Items: The list of items controlled is contained in the ECCN heading")
# Starts mid-structure: lower case, a bare designator, or a dangling connective.
_FRAGMENT = re.compile(r"^(?:[a-z]|\(\w{1,5}\)\s*[a-z]|(?:and|or|but|does|do|is|are|which)\b)")
JURISDICTION_NAMES = {"EU": "EU", "US": "US", "UK": "UK", "Wassenaar": "Wassenaar Arrangement",
                      "multilateral": "Multilateral"}
MAX_QUOTE_WORDS = 70
# A sentence at most this much longer is quoted whole: cutting its last few words saves little
# and can drop the clause that answers ("… must … be returned … no later than one year after …").
QUOTE_SLACK = 1.2
# A quote ending "as follows:" is followed by at most this many of its items.
MAX_ITEMS = 3
# A part's own quote comes from a paragraph retrieval rates at least this share of the unit's best.
PART_MIN_PARAGRAPH = 0.3
PATH_SEPARATOR = " › "
# A question about what is left out, and a sentence that says what is.
_ASKS_EXCLUSION = re.compile(r"\b(?:leaves?|left|carve[sd]?|rules?) out\b|\bexclu\w+|\bexempt\w*|\bexcept\w*"
                             r"|\bnot (?:covered|caught|included|controlled)\b|\bcarve-outs?\b|\bdecontrol\w*", re.I)
_STATES_EXCLUSION = re.compile(r"\bdo(?:es)? not (?:include|control|apply|cover)\b|\bexclud\w+|\bexcept\b"
                               r"|\bother than\b|\bnot subject to\b", re.I)
# The last designator of a reference's label: "c" of 4.E.1.c, "(3)" of § 742.7(a)(3).
_LAST_DESIGNATOR = re.compile(r"\.([a-z]|\d{1,2})$|(\([a-z0-9]{1,4}\))$")
# A question whether something is caught by (controlled under, covered by) an entry or rule.
_ASKS_CAUGHT = re.compile(r"\b(?:caught|captured|covered|controlled|in scope|within (?:the )?scope|catch(?:es)?|covers?"
                          r"|reach(?:es)?|extends? to|appl(?:y|ies) to)\b", re.I)
# A paragraph about one kind of item, named by its ECCNs: "(3) Shotguns with barrel length …,
# identified in ECCN 0A502 …", "(23) Exports … of semi-automatic firearms or shotguns controlled
# under ECCNs 0A506, …". It shares "police" or "license exception" with a question about
# fingerprint computers, yet is about another item.
_ITEM_BY_CODE = re.compile(r"^(?:\(\w{1,4}\)\s*|[a-z0-9]{1,3}\.\s+)?(.{3,200}?),?\s+(?:as\s+)?(?:identified|controlled|classified)"
                           r"\s+(?:in|under|by)\s+ECCNs?\s+(\d[A-E]\d{3})")
_GENERIC_ITEM_TERMS = content_terms("exports reexports transfers in-country items equipment commodities technology "
                                    "software certain related other")


def about_another_item(sentence: str, terms: set[str]) -> bool:
    """Does the sentence name, by its ECCN, an item that shares no word with the question (its
    `terms`) and whose code the question does not name?"""
    match = _ITEM_BY_CODE.match(sentence)
    # A list of codes ("0A502, 0A504, … controlled under ECCN …") names no one item; a code the
    # question names (also as "5A992.c") makes it the question's item.
    if match is None or list_codes(match.group(1)) or \
            any(t == code or t.startswith(code + ".") for code in map(str.lower, list_codes(sentence)) for t in terms):
        return False
    item = content_terms(match.group(1)) - _GENERIC_ITEM_TERMS
    return bool(item) and not item & terms


# A lettered list item: "b. Network …", "(c) the …".
_LETTERED_ITEM = re.compile(r"^\s*(?:[a-z]\.|\([a-z]{1,2}\))\s")
# Where a long sentence's next clause starts: after a semicolon.
_CLAUSE_BREAK = re.compile(r";\s+")
# A figure: an amount, a period or a share ("120 days", "$300,000", "10 percent").
_FIGURE = re.compile(r"\d")

LeadIn = Callable[[Chunk], Chunk | None]
# The paragraphs a list item depends on, outermost first (retrieval.introducers, retrieved only).
Introducers = Callable[[Chunk], list[Chunk]]
# Words' weights for the overlap of a sentence with the question (the index's idf); without
# one every question word counts the same.
Weights = Callable[[list[str]], dict[str, float]]


@dataclass
class Draft:
    answer: str
    citations: list[Citation]


@dataclass
class _Quote:
    chunk: Chunk
    start: int
    end: int
    score: float
    truncated: bool = False
    lead: bool = False  # quoted only to introduce the quote after it
    cut_front: bool = False  # a long lead-in quoted from a clause onwards
    features: dict[str, float] = field(default_factory=dict)  # quote_ranking.QUOTE_FEATURES
    # A lettered item's introducing sentence in the same paragraph ("Note 5.A.1.j. does not apply
    # to … any of the following:" for "b. Network Quality of Service (QoS); or"), as offsets.
    intro: tuple[int, int] | None = None
    # The closing words of the list the quote before it is an item of: like a lead-in, they
    # complete that item's sentence of the law and make no claim of their own.
    closes: bool = False


def compose(question: str, passages: list[Passage], *, lead_in: LeadIn | None = None,
            introducers: Introducers | None = None, closers: Introducers | None = None,
            weights: Weights | None = None, model: QuoteModel | None = None,
            references: list[Reference] | None = None) -> Draft:
    """Quote the best sentence of each selected unit (up to three for the best unit; a further
    unit's second only from another passage of its label), best unit first; further units
    grouped by jurisdiction and instrument."""
    context = QuoteContext.of(question, weights, references)
    model = model or QuoteModel()
    citations: list[Citation] = []
    blocks: list[tuple[Passage, list[_Quote]]] = []
    # The answer's own lists are completed: the best unit's, and the first unit of each further
    # jurisdiction (a comparison needs both definitions' exclusions); under "Also relevant" the
    # items would only lengthen it.
    leading = {id(next(p for p in passages if p.first.jurisdiction == j))
               for j in dict.fromkeys(p.first.jurisdiction for p in passages)}
    # A question that asks several things: each part is given the sentence that answers it best.
    parts = question_parts(question)
    part_contexts = [QuoteContext.of(part, weights) for part in parts] if len(parts) > 1 else []
    # The best unit is quoted up to three times: a definition's exceptions, a procedure's steps
    # often stand in its further sentences. Not for a licence question, whose answer has a block
    # per jurisdiction: there a third sentence of the first unit added words, not answers
    # (measured on dev by question type, then on unread sets).
    first_limit = 2 if context.asks_licence else 3
    for rank, passage in enumerate(passages):
        quotes = _pick(passage, context, model, first_limit if rank == 0 else 1, lead_in, introducers,
                       items=id(passage) in leading, parts=part_contexts if rank == 0 else [])
        if closers is not None:
            quotes = _with_conditions(_with_closing_words(quotes, closers, context), passage, context)
        if quotes:
            blocks.append((passage, quotes))
    if not blocks:
        return Draft("", [])

    leads: list[Citation] = []  # lead-ins waiting for the quote they introduce

    def cite(quote: _Quote) -> str:
        n = len(citations) + 1
        citations.append(citation_for(n, quote.chunk, quote.chunk.text[quote.start : quote.end]))
        if quote.lead:
            leads.append(citations[-1])
        elif quote.closes:  # completes the sentence of the item quoted before it
            citations[-1].introduces = next((c.n for c in reversed(citations[:-1]) if c.introduces is None), None)
        else:
            for lead in leads:
                lead.introduces = n
            leads.clear()
        shown = " ".join(quote.chunk.text[quote.start : quote.end].split())  # PDF layout spaces collapse
        return f"“{'…' if quote.cut_front else ''}{shown}{'…' if quote.truncated else ''}” [{n}]"

    lines: list[str] = []
    first, first_quotes = blocks[0]
    # Named by what it quotes as the answer; the lead-ins that introduce it go without saying.
    named = [q.chunk for q in first_quotes if not q.lead and not q.closes] or [q.chunk for q in first_quotes]
    lines.append(f"**{_names(named)}:** " + " ".join(cite(q) for q in first_quotes))
    rest = blocks[1:]
    if rest:
        jurisdictions = list(dict.fromkeys(p.first.jurisdiction for p, _ in blocks))
        lines.append("")
        if len(jurisdictions) == 1:
            lines.append("Also relevant:")
            lines += [f"- {unit_label(_labelled(qs).chunk)}: " + " ".join(cite(q) for q in qs) for p, qs in rest]
        else:
            for jurisdiction in jurisdictions:
                group = [(p, qs) for p, qs in rest if p.first.jurisdiction == jurisdiction]
                if not group:
                    continue
                if lines[-1]:
                    lines.append("")
                lines.append(f"**{JURISDICTION_NAMES.get(jurisdiction, jurisdiction)}**")
                lines += [f"- {unit_label(qs[-1].chunk)}: " + " ".join(cite(q) for q in qs) for p, qs in group]
    return Draft("\n".join(lines), citations)


_NO_DOUBLE_QUOTES = str.maketrans("", "", "“”\"")


def unit_title(chunk: Chunk) -> str:
    """The unit's own title words: its heading without the label ("Crime control and
    detection" for § 742.7), or the chunker's unit title where it gave one."""
    own = getattr(chunk, "unit_title", "") or ""
    if own:
        # "“Technology” as follows (see List of Items Controlled)." inside a label: its full stop
        # would end the label's sentence in the middle of the answer's first line.
        return own.rstrip(" .:;")
    heading = chunk.heading_path.rsplit(PATH_SEPARATOR, 1)[-1]
    label = re.split(r"[(.]", chunk.section, maxsplit=1)[0].strip()
    if label and heading.startswith(label):
        heading = heading[len(label):]
    return heading.strip(" .—-:")


def unit_label(chunk: Chunk) -> str:
    """The instrument and the label of the chunk quoted (not of its unit's first paragraph)."""
    # The label names the unit, it does not quote it: its title's quotation marks ("“components”")
    # would read as the start of the quotation that follows.
    title = unit_title(chunk).translate(_NO_DOUBLE_QUOTES)
    title = title if len(title) <= 70 else title[:69].rsplit(" ", 1)[0] + "…"
    name = f"{chunk.section} ({title})" if title and title.lower() not in chunk.section.lower() else chunk.section
    return f"{chunk.cite_as}, {name}"


def _names(chunks: list[Chunk]) -> str:
    """The label for one or more quoted paragraphs of a unit: each paragraph quoted is named
    ("Article 5(1) and Article 5(2)"), not only the last one."""
    sections = list(dict.fromkeys(c.section for c in chunks))
    if len(sections) == 1:
        return unit_label(chunks[-1])
    last = unit_label(chunks[-1]).removeprefix(f"{chunks[-1].cite_as}, ")
    return f"{chunks[-1].cite_as}, {' and '.join(sections[:-1])} and {last}"


@dataclass
class QuoteContext:
    """What a sentence is compared with: the question's terms and their weights, the term it
    asks to have defined, whether it asks for a period."""

    terms: set[str]
    weight: dict[str, float]
    asked: set[str]
    asks_time: bool
    asks_licence: bool
    only_names: bool  # "Explain 5A001.j", "What does 5.A.1.j control?"
    asks_exclusion: bool  # "what does the definition leave out?"
    items: tuple[str, ...] = ()  # designators of the sub-items the question names ("c.", "(3)")
    asks_caught: bool = False  # "is a QoS-only DPI box controlled as …?", "does 5D001.e catch …?"
    said: frozenset[str] = frozenset()  # the question's own content words (`terms` adds the glossary's)

    @classmethod
    def of(cls, question: str, weights: Weights | None = None,
           references: list[Reference] | None = None) -> QuoteContext:
        """`references`: the question's, when the caller has found them already (the search has)."""
        terms = content_terms(expand(question))
        # A rare word of the question ("handover", "exclude") says more about which sentence
        # answers than a common one ("software", "export").
        weight = weights(sorted(terms)) if weights is not None else dict.fromkeys(terms, 1.0)
        references = find_references(question) if references is None else references
        items = tuple(m.group(1) + "." if m.group(1) else m.group(2) for r in references
                      if (m := _LAST_DESIGNATOR.search(r.label)))
        return cls(terms, weight, set(asked_phrases(question)), asks_duration(question), licence_question(question),
                   asks_only_for(question, references), bool(_ASKS_EXCLUSION.search(question)), items,
                   bool(_ASKS_CAUGHT.search(question)), frozenset(content_terms(question)))


def sentence_candidates(passage: Passage, context: QuoteContext) -> list[_Quote]:
    """Every quotable sentence of a unit's retrieved paragraphs, with its features
    (`quote_ranking.QUOTE_FEATURES`) and no score yet."""
    candidates: list[_Quote] = []
    position = 0
    # The unit's own designation in the question ("ECCN 3A981") says which unit, not which
    # sentence: a note that repeats the code is not a better answer than the entry's heading.
    first = passage.first
    terms = context.terms - content_terms(f"eccn article section {first.section} {first.unit}")
    weight = context.weight
    # A named unit's chunks are all pinned high: what tells its paragraphs apart is each one's
    # own evidence ("(iv) for use in connection with a violation of human rights" in EU005).
    best = max(map(evidence, passage.chunk_scores.values()), default=0.0) or 1.0
    # fsum: a set's order changes with the hash seed, and a float sum with its order.
    total = math.fsum(weight.get(t, 0.0) for t in terms) or 1.0
    for chunk in passage.chunks:
        # Retrieval's view of which paragraph answers counts beside the words a sentence shares.
        paragraph = evidence(passage.chunk_scores.get(chunk.chunk_id, 0.0)) / best
        opener: tuple[int, int] | None = None  # the paragraph's latest sentence ending with a colon
        for index, span in enumerate(sentence_spans(chunk.text)):
            sentence = chunk.text[span.start : span.end]
            intro = opener if _LETTERED_ITEM.match(sentence) else None
            if sentence.rstrip().endswith(":"):
                opener = (span.start, span.end)
            if _NOT_RULE_TEXT.match(sentence) or INSTRUCTION.search(sentence) or not (
                    _reads_as_text(sentence) or (intro is not None and _short_item(sentence))):
                continue
            introduced_by = chunk.text[intro[0] : intro[1]] if intro else ""
            shared = terms & content_terms(sentence)
            overlap = math.fsum(weight.get(t, 0.0) for t in shared) / total
            features = {
                "overlap": overlap, "paragraph": paragraph, "opening": float(position == 0),
                "fragment": float(bool(_FRAGMENT.match(sentence))),
                # A note saying what an entry does not control, on something the question is
                # about, decides whether the item is caught ("Note: 5A001.j. does not control …
                # Quality of Service"); not one that starts mid-structure ("does not control …").
                "exclusion": float(overlap > 0 and bool(EXCLUDES.search(sentence)) and not _MID_SENTENCE.match(sentence)),
                # A heading shares the question's words best and answers nothing.
                "heading": float(heading_text(sentence, chunk.unit_title, control_list=chunk.doc_type == "control_list")),
                # The sentence that defines the term asked about is the answer, wherever it
                # stands in a list of definitions.
                "defines": float(bool(context.asked and context.asked.intersection(defined_in(sentence)))),
                "duration": float(context.asks_time and states_duration(sentence)),
                "terms": min(len(shared), 5) / 5, "chunk_start": float(index == 0),
                "list_intro": float(sentence.rstrip().endswith(":")),
                "length": length_feature(len(sentence.split())), "number": float(bool(_FIGURE.search(sentence))),
                "entry_opening": float(position == 0 and chunk.doc_type == "control_list"),
                "rule": float(rule := states_rule(sentence)), "licence_rule": float(rule and context.asks_licence),
                "named_opening": float(position == 0 and context.only_names),
                "asked_exclusion": float(context.asks_exclusion and bool(_STATES_EXCLUSION.search(sentence))),
                "named_item": float(bool(context.items) and sentence.lstrip().startswith(context.items)),
                # An item of a list that an exclusion introduces ("… does not apply to … any of the
                # following:" / "b. Network Quality of Service (QoS)"): what the entry leaves out.
                # Only for a question whether something is caught or left out, on what it is about.
                "excluded_item": float(bool(introduced_by) and overlap > 0
                                       and (context.asks_caught or context.asks_exclusion)
                                       and bool(_STATES_EXCLUSION.search(introduced_by))),
            }
            candidates.append(_Quote(chunk, span.start, span.end, 0.0, features=features, intro=intro))
            position += 1
    return candidates


def _pick(passage: Passage, context: QuoteContext, model: QuoteModel, limit: int,
          lead_in: LeadIn | None, introducers: Introducers | None = None, items: bool = False,
          parts: list[QuoteContext] | None = None) -> list[_Quote]:
    candidates = sentence_candidates(passage, context)
    candidates = [q for q in candidates if not _another_item(q, context)] or candidates
    candidates = [q for q in candidates if not _defines_another(q, context)] or candidates
    # A bare heading ("G. **INTRA-GROUP EXPORT OF SOFTWARE AND TECHNOLOGY**") repeats the unit's
    # label; the model's negative weight for it was not always enough.
    candidates = [q for q in candidates if not q.features["heading"]] or candidates
    for quote in candidates:
        quote.score = model.score(quote.features)
    if not candidates:
        return []
    candidates.sort(key=lambda q: (-q.score, q.chunk.ordinal, q.start))
    # "(2) BIS will review … in accordance with the licensing policy in paragraph (b)(1) of this
    # section": the paragraph that states the rule answers first, not the one that applies it.
    stated = _rule_applied(passage, candidates, candidates[0])
    if stated is not None:
        candidates.remove(stated)
        candidates.insert(0, stated)
    # A further quote must read on its own: one starting mid-structure ("does not control …")
    # gives way to the next candidate (only the first quote is given its lead-in).
    chosen = [candidates[0]] + [q for q in candidates[1:] if q.score > model.second_min and not _starts_mid_structure(q)][: limit - 1]
    if limit == 1:
        # A further unit is still cited once, but its best passage may not hold all it answers:
        # a second passage of the same labelled unit (precision is counted per unit) is quoted
        # too when it clears the same bar. It does not bring a list's items (kept short).
        extra = [q for q in candidates[1:] if q.chunk.section == chosen[0].chunk.section
                 and q.chunk.chunk_id != chosen[0].chunk.chunk_id and q.score > model.second_min
                 and not _starts_mid_structure(q)][:1]
        chosen += extra
    else:
        extra = []
    chosen += _part_answers(passage, parts or [], model, chosen, context)
    chosen.sort(key=lambda q: (q.chunk.ordinal, q.start))  # document order reads better
    # The best quote that promises a list ("… the following:") is followed by its first items
    # (those not quoted already). Measured on dev against "none when an item is quoted already":
    # the first items often carry what the answer must say.
    if items:
        have = {(q.chunk.chunk_id, q.start) for q in chosen}
        for i, quote in sorted(enumerate(chosen), key=lambda iq: -iq[1].score):
            if any(quote is e for e in extra):
                continue
            if following := [q for q in _items_after(quote, passage, context) if (q.chunk.chunk_id, q.start) not in have]:
                chosen[i + 1 : i + 1] = following
                break
        # ... in the list's own order, also around an item that was quoted for itself ("a.", "b."
        # added after the colon, "c." chosen on its own: a., b., c.).
        chosen.sort(key=lambda q: (q.chunk.ordinal, q.start))
    chosen = [q for q in chosen if not _another_item(q, context)] or chosen  # items after a lead-in too
    chosen = _with_antecedents(_with_intros(chosen))
    quotes = [_shorten(q, context) for q in chosen]
    # A list item is quoted after the words that introduce it ("The following are not subject to
    # the EAR: … Information and software that: … (ii) Arise during … fundamental research").
    # Each quote gets the introducers it lacks, also when the outermost one is quoted itself
    # ("(b) The following …" and "(ii) Arise during …" still need "(3) … that:" between them).
    # An introducer is left out when its sentence is quoted already, not when another sentence
    # of its paragraph is ("… to the following destinations:" is no "… does not authorise … where:").
    introduced: list[_Quote] = []
    for quote in quotes:
        for c in introducers(quote.chunk) if introducers is not None else []:
            lead = _introducing_sentence(c)
            if lead is not None and not any(q.chunk.chunk_id == c.chunk_id and q.start < lead.end and lead.start < q.end
                                            for q in [*quotes, *introduced]):
                introduced.append(lead)
        introduced.append(quote)
    if len(introduced) > len(quotes):
        return introduced
    if _FRAGMENT.match(quotes[0].chunk.text[quotes[0].start : quotes[0].end]) and lead_in is not None \
            and quotes[0].intro is None:
        parent = lead_in(quotes[0].chunk)
        spans = sentence_spans(parent.text) if parent is not None else []
        # A unit's bare heading ("D. **TEMPORARY EXPORT FOR EXHIBITION OR FAIR**") introduces nothing.
        if spans and _bare_heading(parent, parent.text[spans[0].start : spans[0].end]):
            spans = []
        if spans:
            quotes.insert(0, _shorten(_Quote(parent, spans[0].start, spans[0].end, 0.0, lead=True)))
    return quotes


def _part_answers(passage: Passage, parts: list[QuoteContext], model: QuoteModel,
                  chosen: list[_Quote], whole: QuoteContext) -> list[_Quote]:
    """For each asked part, the unit's sentence that answers that part best, when no quote has
    it yet and it shares the part's words ("how long can it sit on display" → "… within 120
    days …" in § 740.9(a)(5)). A heading, a sentence starting mid-structure or a definition of a
    term the whole question (`whole`) does not use is not added."""
    have = {(q.chunk.chunk_id, q.start) for q in chosen}
    added: list[_Quote] = []
    for part in parts:
        scored = sentence_candidates(passage, part)
        candidates = [q for q in scored if q.features["overlap"] > 0
                      and q.features["paragraph"] >= PART_MIN_PARAGRAPH
                      and not q.features["heading"] and not _starts_mid_structure(q)
                      and not _defines_another(q, whole)]
        if not candidates:
            continue
        # The part's own words decide (a short part has little else); the model breaks ties.
        best = max(candidates, key=lambda q: (q.features["overlap"], model.score(q.features),
                                              -q.chunk.ordinal, -q.start))
        # A part that a quote already shares as many of its words with is answered.
        quoted = [q.features["overlap"] for q in scored if (q.chunk.chunk_id, q.start) in have]
        if best.features["overlap"] > max(quoted, default=0.0):  # so it is not quoted yet either
            have.add((best.chunk.chunk_id, best.start))
            best.score = model.score(best.features)
            added.append(best)
    return added


# A rule applied by reference to a paragraph of the same section.
_APPLIES_PARAGRAPH = re.compile(r"\bin accordance with (?:the \w+ (?:\w+ )?)?(?:in |of )?paragraphs? "
                                r"(\([a-z0-9]{1,4}\)(?:\([a-z0-9]{1,4}\))*) of this section")


def _rule_applied(passage: Passage, candidates: list[_Quote], top: _Quote) -> _Quote | None:
    """The best sentence of the retrieved paragraph whose rule `top` applies by reference, if any."""
    applied = _APPLIES_PARAGRAPH.search(top.chunk.text[top.start : top.end])
    if applied is None:
        return None
    label = unit_of(top.chunk)[1] + applied.group(1)  # "§ 742.7" + "(b)(1)"
    own = [c for c in candidates if c.chunk.section == label]
    return max(own, key=lambda c: (c.score, -c.start)) if own else None


def _with_antecedents(chosen: list[_Quote]) -> list[_Quote]:
    """A sentence that points back ("The term does not include devices that confine memory
    impaired patients …", "Such items …") is preceded by the sentence of its paragraph it points
    to ("… electronic monitoring restraint devices are devices used to record or report the
    location of confined persons …"), unless that is quoted already: alone it does not say which
    term or which items."""
    have = {(q.chunk.chunk_id, q.start) for q in chosen}
    out: list[_Quote] = []
    for quote in chosen:
        if not quote.lead and _POINTS_BACK.match(quote.chunk.text[quote.start : quote.end]):
            before = [s for s in sentence_spans(quote.chunk.text) if s.end <= quote.start]
            if before and (quote.chunk.chunk_id, before[-1].start) not in have:
                have.add((quote.chunk.chunk_id, before[-1].start))
                out.append(_shorten(_Quote(quote.chunk, before[-1].start, before[-1].end, 0.0, lead=True)))
        out.append(quote)
    return out


# Opens by pointing back at what the previous sentence named.
_POINTS_BACK = re.compile(r"^(?:The|This|Such) (?:term|phrase)\b|^(?:These|Such|Those) [a-z]+s\b|^These are\b")


def _with_intros(chosen: list[_Quote]) -> list[_Quote]:
    """Each lettered item is preceded by the sentence of its own paragraph that introduces it,
    unless that is quoted already: "b. Network Quality of Service (QoS)" alone reads as a
    criterion of the entry, after "Note 5.A.1.j. does not apply to … any of the following:" as
    what the entry leaves out."""
    have = {(q.chunk.chunk_id, q.start) for q in chosen}
    out: list[_Quote] = []
    for quote in chosen:
        if quote.intro is not None and (quote.chunk.chunk_id, quote.intro[0]) not in have:
            have.add((quote.chunk.chunk_id, quote.intro[0]))
            out.append(_Quote(quote.chunk, quote.intro[0], quote.intro[1], 0.0, lead=True))
        out.append(quote)
    return out


def _items_after(quote: _Quote, passage: Passage, context: QuoteContext, limit: int = MAX_ITEMS) -> list[_Quote]:
    """A quote that ends "… any of the following:" promises a list: its first items, from the
    same paragraph or the unit's next retrieved one, so that the answer does not stop at the colon
    ("'Intrusion software' does not include any of the following:" and then the exclusions). The
    UK Order introduces its lists with a dash ("(2) Subject to article 26, the enquirer shall not—").
    Items too short to be sentences ("— Singapore,", one of EU004's destinations) are quoted only
    when the question names them: the first three of twenty countries answer nothing."""
    if not quote.chunk.text[quote.start : quote.end].rstrip().endswith((":", "—")):
        return []
    following = [(quote.chunk, [s for s in sentence_spans(quote.chunk.text, _SHORT_ITEM_CHARS) if s.start >= quote.end])]
    after = [c for c in passage.chunks if c.ordinal == quote.chunk.ordinal + 1]
    following += [(c, sentence_spans(c.text, _SHORT_ITEM_CHARS)) for c in after]
    items: list[_Quote] = []
    for chunk, spans in following:
        for span in spans:
            sentence = chunk.text[span.start : span.end]
            if _NOT_RULE_TEXT.match(sentence) or INSTRUCTION.search(sentence) or _bare_heading(chunk, sentence):
                break  # the list has ended (a heading: "**Part 3 – Conditions and requirements for use**")
            if len(sentence) < MIN_SENTENCE_CHARS and not context.said & content_terms(sentence):
                continue
            items.append(_Quote(chunk, span.start, span.end, 0.0))
            if len(items) >= limit:
                return items
        if items:
            break
    return items


# A list item may be shorter than a sentence: "— Chile," (8 characters with its dash).
_SHORT_ITEM_CHARS = 5


def _bare_heading(chunk: Chunk, text: str) -> bool:
    """A heading that only repeats where the text stands ("D. **TEMPORARY EXPORT FOR EXHIBITION
    OR FAIR**", "**Part 3 – Conditions …**"): no lead-in and no list item. A control-list entry's
    heading is not bare: it says what the entry controls."""
    return chunk.doc_type != "control_list" and heading_text(text, chunk.unit_title)

# Mid-sentence: a lower-case word, not a list designator ("a. Simulate …" follows its "as follows:").
_MID_SENTENCE = re.compile(r"^(?:[a-z]{2,}\b(?![.)])|(?:and|or|but)\b)")


def _another_item(quote: _Quote, context: QuoteContext) -> bool:
    return about_another_item(quote.chunk.text[quote.start : quote.end], context.terms)


def _defines_another(quote: _Quote, context: QuoteContext) -> bool:
    """A sentence that is an item of a list of definitions ("“transit or transhipment”, in
    relation to goods, means …") and defines a term the question does not use: the paragraph of
    the UK Order's Article 2(1) that holds "transfer" holds "the torture Regulation" too, and that
    definition answers nothing. Only the question's own words count (the glossary would add
    "licence" to any export question), and of those not the ones that name the instrument ("UK",
    "Export Control Order"): they say which instrument, not which term. A paragraph that defines
    a term in passing ("(d) In this section, the term “military end-user” means … national
    police") is not such an item."""
    # The sentence may start inside the term's opening quotation mark.
    item = _DEFINITION_ITEM.match(quote.chunk.text[max(quote.start - 1, 0) : quote.end])
    if item is None or normalise(item.group(1)) in context.asked:
        return False
    naming = _naming_terms(quote.chunk.cite_as, quote.chunk.title)
    return not (context.said - naming) & content_terms(item.group(1))


@lru_cache(maxsize=256)
def _naming_terms(cite_as: str, title: str) -> frozenset[str]:
    """The words that name an instrument: a few dozen instruments, asked of every definition item."""
    return frozenset(content_terms(f"{cite_as} {title}"))


# An item of a list of definitions: "“payment” includes …", "“shipment” (and cognate expressions) …".
_DEFINITION_ITEM = re.compile(r"^[^\w“\"]{0,3}[“\"]\**([^”\"*]{1,80})\**[”\"].{0,160}?"
                              r"\b(?:means|includes|has the|have the|shall be construed)\b", re.S)


def _starts_mid_structure(quote: _Quote) -> bool:
    return bool(_MID_SENTENCE.match(quote.chunk.text[quote.start : quote.end]))


def _with_closing_words(quotes: list[_Quote], closers: Introducers, context: QuoteContext) -> list[_Quote]:
    """A quoted list item is followed by the words that close its list, after the last quoted
    item of that list: "(a) export the goods in question; or" says nothing of the rule until
    "to a destination outside the United Kingdom unless … the enquirer is satisfied …"."""
    last: dict[str, tuple[int, Chunk]] = {}  # closing chunk → (its last quoted item, the chunk)
    for i, quote in enumerate(quotes):
        if not quote.lead:
            last.update((chunk.chunk_id, (i, chunk)) for chunk in closers(quote.chunk))
    quoted = {q.chunk.chunk_id for q in quotes}
    after: dict[int, list[Chunk]] = {}  # a quote's position → the closing words that follow it
    for chunk_id, (position, chunk) in last.items():
        if chunk_id not in quoted:
            after.setdefault(position, []).append(chunk)
    out: list[_Quote] = []
    for i, quote in enumerate(quotes):
        out.append(quote)
        out += [closing for chunk in after.get(i, []) if (closing := _completing(chunk, context)) is not None]
    return out


# Closing words that make the rule depend on other paragraphs: "if paragraph (2) or (3) applies."
_IF_PARAGRAPHS = re.compile(r"\b(?:if|unless|where)\s+paragraphs?\s+((?:\(\d+\)(?:,\s*|\s+or\s+|\s+and\s+)?)+)"
                            r"\s*appl(?:y|ies)\b")


def _with_conditions(quotes: list[_Quote], passage: Passage, context: QuoteContext) -> list[_Quote]:
    """Closing words that make the rule depend on other paragraphs of the article ("no person
    shall— (a) export UK controlled dual-use goods … if paragraph (2) or (3) applies.") are
    followed by the opening sentence of each such paragraph the unit's retrieval holds: "(2)
    This paragraph applies where the destination is one specified in Schedule 3 as a prohibited
    destination …" is where the rule bites."""
    quoted = {q.chunk.chunk_id for q in quotes}
    out: list[_Quote] = []
    for quote in quotes:
        out.append(quote)
        found = _IF_PARAGRAPHS.search(quote.chunk.text[quote.start : quote.end]) if quote.closes else None
        if found is None:
            continue
        article = re.sub(r"\(\d+\)$", "", quote.chunk.section)
        for number in re.findall(r"\((\d+)\)", found.group(1)):
            target = next((c for c in passage.chunks if c.section == f"{article}({number})"), None)
            # Like the closing words, it completes the item's rule and claims nothing alone.
            condition = _completing(target, context) if target is not None and target.chunk_id not in quoted else None
            if condition is not None:
                quoted.add(target.chunk_id)
                out.append(condition)
    return out


def _completing(chunk: Chunk, context: QuoteContext) -> _Quote | None:
    """A chunk's first sentence, quoted to complete the sentence of an item quoted before it
    (closing words, a condition they name): context, not a claim (`closes`)."""
    spans = sentence_spans(chunk.text)
    return replace(_shorten(_Quote(chunk, spans[0].start, spans[0].end, 0.0), context), closes=True) if spans else None


def _labelled(quotes: list[_Quote]) -> _Quote:
    """The quote a further unit is named by: its last that is neither a lead-in nor closing words."""
    return next((q for q in reversed(quotes) if not q.lead and not q.closes), quotes[-1])


def _introducing_sentence(chunk: Chunk) -> _Quote | None:
    """The sentence of a paragraph that introduces its items: its last, the one ending with a
    colon. A long one is cut from the front, so that "as follows:" stays."""
    spans = sentence_spans(chunk.text)
    if not spans:
        return None
    span = spans[-1]
    text = chunk.text[span.start : span.end]
    words = list(re.finditer(r"\S+", text))
    if len(words) <= MAX_QUOTE_WORDS:
        return _Quote(chunk, span.start, span.end, 0.0, lead=True)
    start = span.start + words[-MAX_QUOTE_WORDS].start()
    return _Quote(chunk, start, span.end, 0.0, lead=True, cut_front=True)


def _shorten(quote: _Quote, context: QuoteContext | None = None) -> _Quote:
    """A very long sentence is quoted up to a clause boundary, marked as cut; never reworded.
    With the question's terms, the run of clauses (from the start, or from after a ";") that
    shares most of them is quoted: the export definition's "it also includes the oral
    transmission of technology …" stands past the first seventy words."""
    text = quote.chunk.text[quote.start : quote.end]
    if len(text.split()) <= MAX_QUOTE_WORDS * QUOTE_SLACK:
        return quote
    starts = [0] + ([m.end() for m in _CLAUSE_BREAK.finditer(text)] if context is not None else [])
    terms, weight = (context.terms, context.weight) if context is not None else (set(), {})
    best: tuple[float, int, int] | None = None
    for start in starts:
        rest = text[start:]
        words = list(re.finditer(r"\S+", rest))
        if len(words) <= MAX_QUOTE_WORDS:
            end = len(rest)
        else:
            limit = words[MAX_QUOTE_WORDS - 1].end()
            cut = max(rest.rfind(mark, 0, limit) for mark in (";", ":", ","))
            end = cut if cut > len(rest) // 4 else limit
        score = math.fsum(weight.get(t, 0.0) for t in terms & content_terms(rest[:end]))
        if best is None or score > best[0] + 1e-9:
            best = (score, start, end)
    assert best is not None
    _, start, end = best
    return _Quote(quote.chunk, quote.start + start, quote.start + start + end, quote.score,
                  truncated=start + end < len(text.rstrip()), lead=quote.lead, cut_front=quote.cut_front or start > 0,
                  features=quote.features)


def _short_item(sentence: str) -> bool:
    """A short lettered item of a list its paragraph introduces ("d. Mediation devices; or"):
    too short to read as text alone, quoted after the sentence that introduces it."""
    return "|" not in sentence and bool(re.search(r"[A-Za-z]{3,}", sentence))


def _reads_as_text(sentence: str) -> bool:
    """Prose, not a table row or a run of list designators such as "b.1.b.1."."""
    if "|" in sentence:
        return False  # a table row
    words = re.findall(r"[A-Za-z]{2,}", sentence)
    letters = sum(ch.isalpha() for ch in sentence)
    return len(words) >= 5 and letters >= 0.6 * len(sentence.replace(" ", ""))
