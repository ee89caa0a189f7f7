"""Grounded extractive answers: only sentences quoted from retrieved passages, grouped by
jurisdiction and instrument, each with its citation marker. No language model involved."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.citations import citation_for
from assistant.records import Citation
from assistant.retrieval import Passage
from assistant.sentences import content_terms, sentence_spans
from assistant.support import INSTRUCTION
from assistant.vocabulary import expand

_NOT_RULE_TEXT = re.compile(
    r"^\[\d+ FR \d+|^Link to an amendment|^\(Spelling|^Note on provenance"
    r"|^Items: The list of items controlled is contained in the ECCN heading")
NAMED_COMPANION = 0.6  # similarity another unit needs to appear beside a unit the question named
JURISDICTION_NAMES = {"EU": "European Union", "US": "United States", "UK": "United Kingdom",
                      "Wassenaar": "Wassenaar Arrangement", "multilateral": "Multilateral"}


@dataclass
class Draft:
    answer: str
    citations: list[Citation]


def compose(question: str, passages: list[Passage], *, max_units: int = 6,
            sentences_per_unit: int = 2, min_similarity: float = 0.0) -> Draft:
    """Pick the sentences of each relevant unit that best match the question and lay them out."""
    terms = content_terms(expand(question))
    named = any(p.exact for p in passages)
    chosen: list[tuple[Passage, list[tuple[object, int, int]]]] = []
    for passage in passages:
        if len(chosen) >= max_units:
            break
        picks = _pick_sentences(passage, terms, sentences_per_unit)
        if not picks:
            continue
        # A unit the question named always counts; when it named one, others must be close in
        # meaning to join it; otherwise sharing words with the question or being close will do.
        if passage.exact or (passage.dense or 0.0) >= max(min_similarity, NAMED_COMPANION if named else 0.0) \
                or (not named and picks[0][3] > 0):
            chosen.append((passage, [p[:3] for p in picks]))
    if not chosen:
        return Draft("", [])

    citations: list[Citation] = []
    groups: dict[str, dict[str, list[str]]] = {}
    for passage, picks in chosen:
        for chunk, start, end in picks:
            quote = chunk.text[start:end]  # type: ignore[attr-defined]
            n = len(citations) + 1
            citations.append(citation_for(n, chunk, quote))  # type: ignore[arg-type]
            jurisdiction = passage.first.jurisdiction
            shown = " ".join(quote.split())  # PDF layout spaces collapse; the citation keeps them
            line = f"- {chunk.section}: “{shown}” [{n}]"  # type: ignore[attr-defined]
            groups.setdefault(jurisdiction, {}).setdefault(passage.first.cite_as, []).append(line)

    relevant = "; ".join(
        f"{cite_as} ({_join(_unique(c.section for c in citations if c.cite_as == cite_as))})"
        for cite_as in _unique(c.cite_as for c in citations)
    )
    lines = [f"The indexed texts that bear on this question: {relevant}. The relevant passages read:"]
    for jurisdiction, instruments in groups.items():
        for cite_as, bullets in instruments.items():
            lines.append("")
            lines.append(f"**{JURISDICTION_NAMES.get(jurisdiction, jurisdiction)} — {cite_as}**")
            lines.extend(bullets)
    return Draft("\n".join(lines), citations)


def _pick_sentences(passage: Passage, terms: set[str], limit: int) -> list[tuple[object, int, int]]:
    scored: list[tuple[float, int, object, int, int]] = []
    position = 0
    for chunk in passage.chunks:
        for span in sentence_spans(chunk.text):
            sentence = chunk.text[span.start : span.end]
            if _NOT_RULE_TEXT.match(sentence) or len(sentence) > 900 or not _reads_as_text(sentence):
                continue
            if INSTRUCTION.search(sentence):  # words addressed to a model are not rule text
                continue
            overlap = len(terms & content_terms(sentence)) / max(1, len(terms))
            scored.append((overlap, position, chunk, span.start, span.end))
            position += 1
    if not scored:
        return []
    # The unit's opening sentence states its rule or names its items; then the sentence that
    # shares most words with the question, if any does.
    lead, others = scored[0], sorted(scored[1:], key=lambda s: (-s[0], s[1]))
    top = [lead] + [s for s in others[: limit - 1] if s[0] > 0]
    best_overlap = max(s[0] for s in top)
    top.sort(key=lambda s: s[1])  # document order reads better than score order
    return [(chunk, start, end, best_overlap) for _, _, chunk, start, end in top]


def _reads_as_text(sentence: str) -> bool:
    """Prose, not a table row or a run of list designators such as "b.1.b.1."."""
    if "|" in sentence:
        return False  # a table row
    words = re.findall(r"[A-Za-z]{2,}", sentence)
    letters = sum(ch.isalpha() for ch in sentence)
    return len(words) >= 5 and letters >= 0.6 * len(sentence.replace(" ", ""))


def _unique(items) -> list[str]:  # noqa: ANN001
    return list(dict.fromkeys(items))


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
