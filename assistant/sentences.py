"""Sentence spans inside a passage, as offsets, so every quote is exact passage text."""

from __future__ import annotations

import re
from dataclasses import dataclass

import Stemmer

# A sentence ends at . ; ! ? before a capital, digit, quote or bracket; a paragraph ends at a
# blank line or where a new list item or paragraph marker starts a line. A single line break
# inside a paragraph (PDF layout) does not end anything.
_BOUNDARY = re.compile(
    r"(?<=[.;!?])\s+(?=[\"“‘'(\[A-Z0-9§])|\n[ \t]*\n\s*|\n(?=[ \t]*(?:[-*•>]|\(\w{1,4}\)|\w{1,3}\.)[ \t])"
    # One italic sentence after another, as the control lists set their Notes: "… or
    # filesystem.* *Note 1:* *5A004.b. does not control …*" (not "*Software updates.* The …").
    # An italic list designator ("*following:* *a.* *Marketing purpose;*") ends nothing.
    r"|(?<=[.;!?]\*)(?<!\*[a-z]\.\*)(?<!\*[a-z]{2}\.\*)(?<!\*\d\.\*)(?<!\*\d\d\.\*)\s+(?=\*[\"“‘'(\[A-Z0-9§])")
# A list bullet or block-quote mark before a sentence is not part of it; an asterisk that opens
# emphasis ("*Intrusion software.* …", a defined term) is.
_LEAD = re.compile(r"^(?:[>\-•]\s*|\*\s+)+|^[\"“‘']+(?=\S)")
_TRAIL_QUOTES = re.compile(r"[\"”’']+$")
_CLOSED_QUOTE = re.compile(r"^“[^“”\n]{1,120}”")
_WORD = re.compile(r"[a-z0-9]+(?:\.[a-z0-9]+)*")
STOPWORDS = frozenset(
    "a an and are as at be been being but by can could did do does for from had has have how i if in "
    "into is it its may me might must my no not of on or our shall should so such than that the their "
    "them then there these they this those to under upon was we were what when where which while who "
    "whom why will with would you your need needs required require requires any all also about".split()
)
_STEM = Stemmer.Stemmer("english")


@dataclass(frozen=True)
class Span:
    start: int
    end: int


# A full stop after these words does not end a sentence ("supplement no. 1", "U.S. law").
ABBREVIATIONS = (r"no|nos|e\.g|i\.e|u\.s|et seq|art|arts|para|paras|supp|sec|secs|v|vs|inc|co|ltd|corp|"
                 r"st|dr|mr|ms|fig|ref|approx|cf|viz|etc|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec")
_ABBREVIATION = re.compile(rf"(?:\b(?:{ABBREVIATIONS})\.|\b[A-Za-z]\.|\d\.)$", re.I)


# Shorter pieces are not sentences ("- — Chile," is a list item, not something to quote alone).
MIN_SENTENCE_CHARS = 20


def sentence_spans(text: str, min_chars: int = MIN_SENTENCE_CHARS) -> list[Span]:
    spans: list[Span] = []
    pos = 0
    boundaries = [b for b in _BOUNDARY.finditer(text)
                  if b.group(0).startswith("\n") or not _ABBREVIATION.search(text[max(0, b.start() - 12) : b.start()])]
    for boundary in [*boundaries, None]:
        end = boundary.start() if boundary else len(text)
        start = pos
        pos = boundary.end() if boundary else len(text)
        piece = text[start:end]
        lead = _LEAD.match(piece)
        # An opening quotation mark stays when the piece closes it: "“transfer by electronic
        # means”, in relation to …" is a definition, "transfer by electronic means”, …" a fragment.
        if lead and not _CLOSED_QUOTE.match(piece):
            start += lead.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        trail = _TRAIL_QUOTES.search(text, start, end)
        if trail and text.count("“", start, end) < text.count("”", start, end):
            end = trail.start()
        if end - start >= min_chars:
            spans.append(Span(start, end))
    return spans


def content_terms(text: str) -> set[str]:
    """Stemmed content words: what lexical support and relevance compare."""
    words = [w for w in _WORD.findall(text.lower()) if w not in STOPWORDS and len(w) > 1]
    return set(_STEM.stemWords(words))


_MARKUP = re.compile(r"[#*_`>|]+")
_HEADING_LINE = re.compile(r"^\s*#{1,6}\s[^\n]*\s*$")
_NOTE_OR_RESERVED = re.compile(r"^\[?\s*(?:\d+ FR \d+[^\]]*|Reserved)\s*\]?\.?$", re.I)
_BOLD_LINE = re.compile(r"^\s*(?:[A-Z0-9]{1,3}\.\s*)?\*\*[^*\n]+\*\*\s*$")
_DESIGNATOR = re.compile(r"^(?:[A-Z]|\d+|[ivx]+)[.)]\s+")


def heading_text(text: str, unit_title: str = "", *, control_list: bool = False) -> bool:
    """Is `text` only a heading ("## PART 6 — OFFENCES, …", "G. **INTRA-GROUP EXPORT OF
    SOFTWARE AND TECHNOLOGY**", the unit's own title), a reserved slot or an amendment note?
    Quoted as an answer it tells the reader only what a unit is called. A control-list entry's
    heading is what it controls, so there the title counts as text."""
    plain = re.sub(r"\s+", " ", _MARKUP.sub(" ", text)).strip()
    if _HEADING_LINE.match(text) or _NOTE_OR_RESERVED.match(plain) or not plain:
        return True
    if _BOLD_LINE.match(text) and len(plain.split()) <= 15:  # "**Part 3 – Conditions and requirements for use**"
        return True
    bare = _DESIGNATOR.sub("", plain).rstrip(".").strip()
    # "UNION GENERAL EXPORT AUTHORISATION No EU005": a number sign in a capitals heading.
    if len(bare.split()) <= 20:  # (a long text is never a heading; checked first, it is cheap)
        letters = [ch for ch in re.sub(r"\bNo\.?(?=\s)", "", bare) if ch.isalpha()]
        if letters and all(ch.isupper() for ch in letters):
            return True
    if control_list or not unit_title.strip():
        return False
    title = re.sub(r"\s+", " ", _MARKUP.sub(" ", unit_title)).strip().rstrip(".").lower()
    # "Annex II Section G: INTRA-GROUP EXPORT …" is titled after its colon as well.
    return bare.lower() in {title, title.rsplit(": ", 1)[-1]}
