"""The terms the corpus itself defines, and the question that asks what one of them means.

"What are 'dual-use items' under Regulation (EU) 2021/821?" is answered by Article 2(1), whose
text is "(1) 'dual-use items' means …". Dense search and BM25 see a dozen articles that use the
words; the one that *defines* them is known from the corpus's own structure: a definition unit
(`§ 772.1 “Knowledge”`, `Definition of "intrusion software"`, an article of definitions) or a
sentence of the form "'term' means …". This module reads those terms once per index generation
and finds, for a question that asks what a term means or what counts as it, the chunks that
define that term. Nothing here is hand-listed: a new document's definitions are found the same
way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from assistant.sentences import content_terms
from indexer.records import Chunk

_QUOTES = "'‘’\"“”"
# "'dual-use items' means", "“*dual-use*” in relation to goods, software or technology, means",
# "'internal compliance programme' or 'ICP' means", "the term 'covered ECCN' means".
_DEFINING = re.compile(
    r"((?:[‘“\"]\*?[^’”\"*\n]{2,60}?\*?[’”\"]\s*(?:,?\s*or\s+)?)+)"
    r"(?:,?\s*(?:in relation to|as used in|for the purposes of)\b[^.;:’”\"]{0,100}?,?)?\s*"
    r"(?:means|has the meaning|is defined as)\b")
_QUOTED_TERM = re.compile(r"[‘“\"]\*?([^’”\"*\n]{2,60}?)\*?[’”\"]")
_DEFINITION_HEADING = re.compile(r"^Definition of [\"“](.+?)[\"”]")
_ARTICLE_OF_DEFINITIONS = re.compile(r"^Article 2\(\d+\)$")

# What a question asks to be defined: a quoted phrase, or the phrase after "what is", "define",
# "count as" … up to where the question turns to its context ("under", "in", "for").
_QUESTION_QUOTE = re.compile(r"(?:^|(?<=[\s(]))[‘“\"']([^‘’“”\"'\n]{2,60})[’”\"'](?![A-Za-z])")
_STOP = r"(?=\s+(?:under|in|within|for|according|by|of the|as defined|when|if|and|or|mean|means)\b|[?,.;:!]|$)"
_FOCUS = [
    re.compile(r"\bwhat(?:['’]s| (?:\w+ly )?(?:is|are|does|do)) (?:an? |the )?(.{2,60}?)" + _STOP, re.I),
    re.compile(r"\bmean(?:s|t)? by (?:an? |the )?(.{2,60}?)" + _STOP, re.I),
    re.compile(r"\b(?:definition|meaning) of (?:an? |the )?(.{2,60}?)" + _STOP, re.I),
    re.compile(r"\bdefines? (?:an? |the )?(.{2,60}?)" + _STOP, re.I),
    re.compile(r"\b(?:counts?|qualif(?:y|ies)|treated|considered|regarded|classed) as (?:an? |the )?(.{2,60}?)"
               + _STOP, re.I),
]
_ASKS = re.compile(r"\b(?:mean|means|meant|meaning|defin\w*|counts? as|qualif(?:y|ies) as|treated as|considered"
                   r"|regarded as|classed as|what(?:['’]s\b| (?:\w+ly )?(?:is|are)\b))", re.I)


def normalise(phrase: str) -> str:
    """Lower case, no quotes or emphasis, singular words: 'Dual-use items' ~ 'dual-use item'."""
    words = re.sub(rf"[{_QUOTES}*_]", " ", phrase.lower()).replace("licence", "license").split()
    return " ".join(w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith("ss") else w for w in words)


# A paragraph headed by the term in italics: "(4) *Government end user,* for the purpose of
# § 740.22, is a national, regional or local department …", "(1) *Cybersecurity Items* are …".
_ITALIC_DEFINING = re.compile(r"^\(\w{1,4}\)\s+\*([A-Z][^*\n]{2,60}?),?\*,?\s+"
                              r"(?:for the purposes? of [^,\n]{0,40},\s+)?(?:is|are|means)\b", re.M)


def defined_in(text: str) -> list[str]:
    """The terms a passage of text defines in its own words ("'term' means …"), normalised."""
    return [normalise(t) for match in _DEFINING.finditer(text) for t in _QUOTED_TERM.findall(match.group(1))] + \
        [normalise(m.group(1)) for m in _ITALIC_DEFINING.finditer(text)]


def asked_phrases(question: str) -> list[str]:
    """What a question asks to have defined, normalised: its quoted phrases and the phrase after
    "what is", "define", "count as" …; [] when it does not ask what something means."""
    if not _ASKS.search(question):
        return []
    phrases = [m.group(1) for m in _QUESTION_QUOTE.finditer(question)]
    phrases += [m.group(1) for pattern in _FOCUS for m in pattern.finditer(question)]
    return list(dict.fromkeys(p for p in map(normalise, phrases) if p))


def terms_defined_by(chunk: Chunk) -> list[str]:
    """The terms this chunk defines, normalised: by its unit's structure, or by its own words."""
    found: list[str] = []
    heading = _DEFINITION_HEADING.match(chunk.section)
    if heading:
        found.append(heading.group(1))
    elif chunk.unit and chunk.unit != chunk.section and chunk.unit.startswith(chunk.section) and chunk.unit_title:
        found.append(chunk.unit_title)  # `§ 772.1 “Knowledge”`: one unit per defined term
    elif _ARTICLE_OF_DEFINITIONS.match(chunk.section) and chunk.unit_title:
        found.append(chunk.unit_title)
    found = [normalise(t) for t in found] + defined_in(chunk.text)
    return list(dict.fromkeys(t for t in found if t and len(t) <= 60))


@dataclass(frozen=True)
class DefinedTerms:
    """Normalised term → the chunks that define it, in corpus order."""

    by_term: dict[str, tuple[str, ...]]

    @classmethod
    def build(cls, chunks: Iterable[Chunk]) -> DefinedTerms:
        by_term: dict[str, list[str]] = {}
        first_of_unit: set[tuple[str, str, str]] = set()
        for chunk in sorted(chunks, key=lambda c: (c.doc_id, c.ordinal)):
            for term in terms_defined_by(chunk):
                key = (chunk.doc_id, chunk.unit or chunk.section, term)
                if key in first_of_unit:
                    continue  # a unit's later paragraphs (its exclusions) are not its definition
                first_of_unit.add(key)
                by_term.setdefault(term, []).append(chunk.chunk_id)
        return cls({term: tuple(ids) for term, ids in by_term.items()})

    def asked(self, question: str) -> list[str]:
        """The defined terms the question asks about, if it asks what one means or what counts
        as one; [] otherwise. The term must be the whole phrase asked about: "sales technology"
        is not "technology", and "License Exception TSU" is not "License Exception"."""
        found: list[str] = []
        for phrase in asked_phrases(question):
            # "transfer (in-country)" is defined under its head word where the heading is "Transfer"
            for form in (phrase, re.sub(r"\s*\([^)]*\)$", "", phrase)):
                if form in self.by_term and form not in found:
                    found.append(form)
                    break
        return found

    def chunks_for(self, terms: Sequence[str]) -> list[str]:
        return [cid for term in terms for cid in self.by_term.get(term, ())]


# Words that name where a term is defined or ask for the definition, not what else is asked.
_FRAME = content_terms(
    "what is are does do mean means meant meaning define defined definition exactly count counts considered "
    "treated regarded qualify under in the of EU UK US U.S. EAR BIS Wassenaar Arrangement list regulation "
    "regulations order export control controls dual-use 2021/821 15 CFR part annex commerce")


def rest_of_question(question: str, asked: Sequence[str]) -> set[str]:
    """The question's content words besides the asked term and the words that frame a definition
    question: empty for "What are 'dual-use items' under Regulation (EU) 2021/821?", the
    product for "Is an anti-theft tracking agent considered 'intrusion software'?"."""
    return content_terms(question) - _FRAME - {t for term in asked for t in content_terms(term)}
