"""Legal-structure chunking: one citable unit never shares a chunk with another.

A unit is the text under a heading (an Article, a CFR section, an ECCN, an Annex entry...).
Inside CFR sections, paragraph markers `(a)(1)(i)` open sub-units, and inside Articles,
numbered paragraphs `1.` do. Units longer than the embedding window are split at
paragraph, then sentence boundaries; every piece keeps its unit's label.
"""

from __future__ import annotations

import bisect
import hashlib
import re
import string
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from indexer.labels import (
    LEVEL_LOWER,
    LEVEL_NUMBER,
    LEVEL_ROMAN,
    format_markers,
    heading_label,
    leading_markers,
    marker_levels,
)
from indexer.records import Chunk, Heading, ParsedDocument
from indexer.tokens import TokenCounter

CHUNKER_VERSION = "1"
PATH_SEPARATOR = " › "

# Lines that are provenance or parse scaffolding in the bundled corpus, not document text.
NON_TEXT_LINE = re.compile(
    r"^\s*(?:```|~~~|Source:|Sources:|Provenance note|Note on provenance"
    r"|- code: `|- label:\s*$|- full_content:(?:\s*$| \(empty string))"
)
_FR_SOURCE_NOTE = re.compile(r"^\s*\[\d+ FR \d+")
_EU_PARAGRAPH = re.compile(r"^\s*(\d{1,2})\.\s+\S")
# PDF and text lose blank lines between paragraphs; a line opening with a marker starts one.
_PARAGRAPH_START = re.compile(r"^\s*(?:\(\*?[a-zA-Z0-9]{1,5}\*?\)\s|\d{1,2}\.\s+\S)")
# A paragraph longer than this (the bundled corpus's longest is ~40,000 characters; a hostile
# file can hold one 50 MB line) is cut from one tokenizer pass per window: the text splitter
# counts every word separately and a whole-paragraph count holds all its word pieces at once,
# which took minutes and gigabytes on such a line.
HUGE_PARAGRAPH_CHARS = 100_000
_WINDOW_CHARS = 32_768
_MAX_PIECE_CHARS = 4_000  # also bounds runs without spaces, which count as one "[UNK]" piece


@dataclass
class _Span:
    start: int
    end: int
    tokens: int | None = None  # word pieces, when already known from cutting


@dataclass
class _Unit:
    """A run of paragraphs that share one citable label."""

    section: str
    heading_path: str
    paragraphs: list[_Span]


class Chunker:
    """Turns a parsed document into chunks that fit the embedding window."""

    def __init__(self, counter: TokenCounter, max_tokens: int = 256, max_context_tokens: int = 48):
        self.counter = counter
        self.max_tokens = max_tokens
        self.max_context_tokens = max_context_tokens

    # -- public ------------------------------------------------------------------------------

    def chunk(self, doc: ParsedDocument) -> list[Chunk]:
        chunks: list[Chunk] = []
        seen: dict[str, int] = {}
        for unit in self._units(doc):
            context = self._context(unit)
            budget = self.max_tokens - 2 - self.counter.count(context) - 1
            for span in self._pack(doc.text, unit.paragraphs, budget):
                text = doc.text[span.start : span.end]
                digest_input = f"{doc.meta.id}\x1f{unit.section}\x1f{context}\x1f{text}"
                digest = hashlib.sha256(digest_input.encode()).hexdigest()[:16]
                occurrence = seen.get(digest, 0)
                seen[digest] = occurrence + 1
                if occurrence:
                    digest = f"{digest}-{occurrence}"
                chunks.append(
                    Chunk(
                        chunk_id=f"{doc.meta.id}:{digest}",
                        doc_id=doc.meta.id,
                        ordinal=len(chunks),
                        cite_as=doc.meta.cite_as,
                        title=doc.meta.title,
                        section=unit.section,
                        heading_path=unit.heading_path,
                        context=context,
                        text=text,
                        start=span.start,
                        end=span.end,
                        page=doc.page_at(span.start),
                        token_count=self.counter.count(text) if span.tokens is None else span.tokens,
                        jurisdiction=doc.meta.jurisdiction,
                        doc_type=doc.meta.doc_type,
                        as_of=doc.meta.as_of,
                        source_url=doc.meta.source_url,
                        completeness=doc.meta.completeness_status,
                    )
                )
        return chunks

    # -- units -------------------------------------------------------------------------------

    def _units(self, doc: ParsedDocument) -> list[_Unit]:
        headings = sorted(doc.headings, key=lambda h: h.start)
        units: list[_Unit] = []
        first = headings[0].start if headings else len(doc.text)
        skip = doc.skip_lines
        preamble = self._paragraphs(doc.text, doc.body_start, first, skip)
        if preamble:
            units.append(_Unit(doc.meta.title, doc.meta.cite_as, preamble))
        stack: list[Heading] = []
        for i, heading in enumerate(headings):
            while stack and stack[-1].level >= heading.level:
                stack.pop()
            stack.append(heading)
            end = headings[i + 1].start if i + 1 < len(headings) else len(doc.text)
            label = heading_label(heading.text)
            path = PATH_SEPARATOR.join(
                [doc.meta.cite_as] + [_clean_heading(h.text) for h in stack if h.level > 1]
            )
            paragraphs = self._paragraphs(doc.text, heading.body_start, end, skip)
            is_leaf = i + 1 == len(headings) or headings[i + 1].level <= heading.level
            if not paragraphs:
                if is_leaf and heading.level > 1:
                    # A bare heading such as "§ 744.10 [Reserved]" is still a citable unit.
                    line_end = doc.text.find("\n", heading.start)
                    line_end = len(doc.text) if line_end == -1 else line_end
                    span = _strip(doc.text, heading.start, line_end)
                    if span:
                        units.append(_Unit(label.text, path, [span]))
                continue
            if label.kind == "cfr":
                units.extend(_cfr_units(doc.text, label.text, path, paragraphs))
            elif label.kind == "article" and "(" not in label.text:
                units.extend(_article_units(doc.text, label.text, path, paragraphs))
            else:
                units.append(_Unit(label.text, path, paragraphs))
        return units

    @staticmethod
    def _paragraphs(text: str, start: int, end: int, skip: frozenset[int] = frozenset()) -> list[_Span]:
        """Blank-line separated paragraphs in [start, end), without provenance lines."""
        spans: list[_Span] = []
        current: _Span | None = None
        pos = start
        while pos < end:
            line_end = text.find("\n", pos, end)
            line_end = end if line_end == -1 else line_end
            line = text[pos:line_end]
            if not line.strip() or NON_TEXT_LINE.match(line) or pos in skip:
                if current:
                    spans.append(current)
                    current = None
            elif current is None:
                current = _Span(pos, line_end)
            elif _PARAGRAPH_START.match(line):
                spans.append(current)
                current = _Span(pos, line_end)
            else:
                current.end = line_end
            pos = line_end + 1
        if current:
            spans.append(current)
        return [s for s in (_strip(text, sp.start, sp.end) for sp in spans) if s]

    # -- sizing ------------------------------------------------------------------------------

    def _context(self, unit: _Unit) -> str:
        context = unit.heading_path
        tail = unit.heading_path.rsplit(PATH_SEPARATOR, 1)[-1]
        if unit.section and not tail.startswith(unit.section):
            context = f"{context}{PATH_SEPARATOR}{unit.section}"
        return self.counter.truncate(context, self.max_context_tokens)

    def _pack(self, text: str, paragraphs: list[_Span], budget: int) -> list[_Span]:
        """Greedily join whole paragraphs up to the budget; split only paragraphs too long alone."""
        pieces: list[_Span] = []
        huge: set[int] = set()  # starts of pieces cut from a huge paragraph: already packed
        for para in paragraphs:
            if para.end - para.start > HUGE_PARAGRAPH_CHARS:
                cut = self._split_huge(text, para, budget)
                huge.update(span.start for span in cut)
                pieces.extend(cut)
            elif self.counter.count(text[para.start : para.end]) <= budget:
                pieces.append(para)
            else:
                pieces.extend(self._split_long(text, para, budget))
        packed: list[_Span] = []
        for piece in pieces:
            # Join only neighbours with nothing but blank lines between them, so a dropped
            # provenance line never comes back inside a chunk.
            if packed and piece.start not in huge and not text[packed[-1].end : piece.start].strip():
                candidate = text[packed[-1].start : piece.end]
                if self.counter.count(candidate) <= budget:
                    packed[-1] = _Span(packed[-1].start, piece.end)
                    continue
            packed.append(piece)
        return packed

    def _split_long(self, text: str, para: _Span, budget: int) -> list[_Span]:
        splitter = RecursiveCharacterTextSplitter(
            separators=["\n\n", "\n", r"(?<=[.;:])\s+", r"\s+", ""],
            is_separator_regex=True,
            keep_separator=True,
            chunk_size=budget,
            chunk_overlap=0,
            length_function=self._split_length,
            strip_whitespace=True,
        )
        body = text[para.start : para.end]
        spans: list[_Span] = []
        cursor = 0
        for piece in splitter.split_text(body):
            found = body.find(piece, cursor)
            if found == -1:  # the splitter returns verbatim substrings; anything else is a bug
                raise AssertionError("text splitter returned text not found in the source")
            spans.append(_Span(para.start + found, para.start + found + len(piece)))
            cursor = found + len(piece)
        return spans

    def _split_length(self, piece: str) -> int:
        """Word pieces, but at least 1 for visible characters the tokenizer drops (zero-width,
        control): the splitter carries zero-length pieces into the next chunk as well, so such a
        piece came out twice and the chunk was no longer a substring of the source."""
        return self.counter.count(piece) or (1 if piece.strip() else 0)

    def _split_huge(self, text: str, para: _Span, budget: int) -> list[_Span]:
        """Cut a huge paragraph into pieces of at most `budget` word pieces (and at most
        _MAX_PIECE_CHARS characters), at a line, sentence or word boundary where one is near;
        linear in the paragraph's length, with memory bounded by the window."""
        spans: list[_Span] = []
        start = _skip_space(text, para.start, para.end)
        while start < para.end:
            window_end = min(para.end, start + _WINDOW_CHARS)
            if window_end < para.end:  # end the window between words, so its word pieces are final
                space = max(text.rfind(" ", start, window_end), text.rfind("\n", start, window_end))
                window_end = space if space > start + _MAX_PIECE_CHARS else window_end
            ends = [start + b for _, b in self.counter.offsets(text[start:window_end])]
            window_start = start
            while start < window_end:
                last = bisect.bisect_right(ends, start) + max(1, budget) - 1
                limit = min(start + _MAX_PIECE_CHARS, ends[last] if last < len(ends) else window_end)
                if limit >= window_end and window_end < para.end and start > window_start:
                    break  # the rest of this window continues in the next one
                cut = para.end if limit >= para.end else _boundary(text, start, limit)
                span = _strip(text, start, cut)
                if span is not None:
                    # Word pieces never straddle a space or punctuation, so a piece cut at
                    # one is counted exactly from the window's offsets; others are recounted.
                    first = bisect.bisect_left(ends, span.start + 1)
                    span.tokens = bisect.bisect_left(ends, span.end + 1) - first
                    if not (_word_break(text, span.start, para) and _word_break(text, span.end, para)):
                        piece = text[span.start : span.end]
                        count = self.counter.count(piece)
                        while len(piece) > 1 and count > budget:
                            shorter = self.counter.truncate(piece, budget)
                            piece = shorter if 0 < len(shorter) < len(piece) else piece[: len(piece) // 2]
                            count = self.counter.count(piece)
                        span = _Span(span.start, span.start + len(piece), count)
                    spans.append(span)
                    cut = span.end
                start = _skip_space(text, cut, para.end)
        return spans


# -- paragraph structure ---------------------------------------------------------------------


def _cfr_units(text: str, label: str, path: str, paragraphs: list[_Span]) -> list[_Unit]:
    """Label each paragraph of a CFR section with its `(a)(1)(i)` designation."""
    units: list[_Unit] = []
    stack: list[tuple[int, str]] = []
    markers_per_para = [leading_markers(text[p.start : p.end]) for p in paragraphs]
    for i, para in enumerate(paragraphs):
        markers = markers_per_para[i]
        body = text[para.start : para.end]
        if _FR_SOURCE_NOTE.match(body):
            stack = []
        elif markers:
            following = next((m[0] for m in markers_per_para[i + 1 :] if m), None)
            level = -1
            for n, marker in enumerate(markers):
                level = _choose_level(marker, stack, following if n == 0 else None, level)
                if level < 0:
                    break
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, marker))
        section = label + format_markers([m for _, m in stack])
        if units and units[-1].section == section:
            units[-1].paragraphs.append(para)
        else:
            units.append(_Unit(section, path, [para]))
    return units


def _choose_level(marker: str, stack: list[tuple[int, str]], following: str | None, floor: int) -> int:
    options = [lvl for lvl in marker_levels(marker) if lvl > floor]
    if not options:
        return -1
    if len(options) == 1:
        return options[0]
    # `(i)`, `(v)`, `(x)`: a letter after (h)/(u)/(w), or a roman numeral under a number.
    letter_ok = any(lvl == LEVEL_LOWER and _is_next_letter(m, marker) for lvl, m in stack)
    in_number = any(lvl == LEVEL_NUMBER for lvl, _ in stack)
    roman_ok = in_number and (
        marker == "i" or any(lvl == LEVEL_ROMAN and _is_next_roman(m, marker) for lvl, m in stack)
    )
    if letter_ok and roman_ok:
        return LEVEL_ROMAN if following == "ii" and marker == "i" else LEVEL_LOWER
    if roman_ok:
        return LEVEL_ROMAN
    return LEVEL_LOWER


def _is_next_letter(previous: str, marker: str) -> bool:
    return len(previous) == 1 and previous.isalpha() and ord(marker) == ord(previous) + 1


_ROMANS = ["i", "ii", "iii", "iv", "v", "vi", "vii", "viii", "ix", "x", "xi", "xii"]


def _is_next_roman(previous: str, marker: str) -> bool:
    return previous in _ROMANS and marker in _ROMANS and _ROMANS.index(marker) == _ROMANS.index(previous) + 1


def _article_units(text: str, label: str, path: str, paragraphs: list[_Span]) -> list[_Unit]:
    """EU-style numbered paragraphs `1.`, `2.` of an Article become `Article 5(1)`, `Article 5(2)`."""
    units: list[_Unit] = []
    current = label
    for para in paragraphs:
        match = _EU_PARAGRAPH.match(text[para.start : para.end])
        if match:
            current = f"{label}({match.group(1)})"
        if units and units[-1].section == current:
            units[-1].paragraphs.append(para)
        else:
            units.append(_Unit(current, path, [para]))
    return units


def _clean_heading(heading: str) -> str:
    return heading.strip().lstrip("#").strip().rstrip(".").strip()


def _skip_space(text: str, pos: int, end: int) -> int:
    while pos < end and text[pos].isspace():
        pos += 1
    return pos


_WORD_SEPARATORS = frozenset(" \t\r\n" + string.punctuation)


def _word_break(text: str, pos: int, para: _Span) -> bool:
    """Is there a word boundary (for the tokenizer too) between text[pos - 1] and text[pos]?"""
    return pos <= para.start or pos >= para.end or text[pos - 1] in _WORD_SEPARATORS \
        or text[pos] in _WORD_SEPARATORS


def _boundary(text: str, start: int, limit: int) -> int:
    """Where to end a piece that may reach `limit`: after the last line break, sentence end or
    space in its second half; at `limit` itself when there is none (a run without spaces)."""
    floor = start + (limit - start) // 2
    line = text.rfind("\n", floor, limit)
    if line > floor:
        return line
    sentence = max(text.rfind(mark, floor, limit) for mark in (". ", "; ", ": "))
    if sentence > floor:
        return sentence + 1
    space = text.rfind(" ", floor, limit)
    if space > floor:
        return space
    mark = max(text.rfind(ch, floor, limit - 1) for ch in "+/=,-_|")  # e.g. base64 or a URL
    return mark + 1 if mark > floor else limit


def _strip(text: str, start: int, end: int) -> _Span | None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return _Span(start, end) if end > start else None
