"""Legal-structure chunking: one citable unit never shares a chunk with another.

A unit is the text under a heading (an Article, a CFR section, an ECCN, an Annex entry...).
Inside CFR and U.S. Code sections, paragraph markers `(a)(1)(i)` open sub-units; inside Articles,
numbered paragraphs `1.`, definitions `(20)`, points `(a)` and sub-points `(i)` do; inside an EU
Annex I entry (one Markdown table row), the inline enumeration `a.` … `1.` … does; in a
definitions section, each defined term is a unit. Units longer than the embedding window are
split at paragraph, then sentence boundaries; every piece keeps its unit's label.
"""

from __future__ import annotations

import bisect
import hashlib
import re
import string
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from indexer.labels import (
    ARTICLE_SCHEME,
    CFR_SCHEME,
    NOTE_HEADER,
    USC_SCHEME,
    annex_definition_term,
    cfr_definition_term,
    choose_level,
    continues_list,
    definition_label,
    definition_qualifier,
    format_markers,
    goes_back,
    heading_label,
    inline_items,
    leading_markers,
)
from indexer.records import Chunk, Heading, ParsedDocument
from indexer.tokens import TokenCounter

CHUNKER_VERSION = "6"
PATH_SEPARATOR = " › "

# Lines that are provenance or parse scaffolding in the bundled corpus, not document text; and
# Markdown table rows without words: empty header rows `|  |  |  |` and separators `| --- |`.
NON_TEXT_LINE = re.compile(
    r"^\s*(?:```|~~~|Source:|Sources:|Provenance note|Note on provenance"
    r"|- code: `|- label:\s*$|- full_content:(?:\s*$| \(empty string)"
    r"|\|(?:[ \t]*:?-*:?[ \t]*\|)+[ \t]*$)"
)
_FR_SOURCE_NOTE = re.compile(r"^\s*\[\d+ FR \d+")
# The U.S. Code's source credit "*([Pub. L. 115–232 …" ends a section's text; notes follow.
_USC_NOTES = re.compile(r"^\s*(?:\*\(\[?Pub\. L\.|\*\*(?:Editorial|Statutory) Notes)")
_EU_PARAGRAPH = re.compile(r"^\s*(\d{1,3})\.\s*(?=\S)")
_LIST_ITEM = re.compile(r"^([ \t]*)- (?=\S)")
_LIST_GAP = re.compile(r"\s*(?:(?<=\n)[ \t]*- \s*)?")
# A numbered Article paragraph that defines a term: `(20) ‘cyber-surveillance items’ means …`.
_ARTICLE_DEFINITION = re.compile(r"^\(\d{1,3}\)\s+‘(?P<t>[^’]{1,120})’(?:\s+or\s+‘[^’]{1,40}’)?\s+means")
# One Annex I entry as the source renders it: `|  | 5A001 | Telecommunications systems … |`.
_ENTRY_ROW = re.compile(r"^\|[ \t]*\|[ \t]*(?P<code>\d[A-E]\d{3})[ \t]*\|(?P<cell>.*)\|[ \t]*$")
_DEFINITIONS_HEADING = re.compile(r"^DEFINITIONS OF TERMS", re.I)
# A general note's centred title line inside a laid-out extract (the Wassenaar List's PDF text).
_GENERAL_NOTE = re.compile(r'^[ \t]*(GENERAL (?:"[A-Z ]+"|[A-Z]+) NOTE)[ \t]*$')
# PDF and text lose blank lines between paragraphs; a line opening with a marker starts one.
_PARAGRAPH_START = re.compile(r"^\s*(?:\(\*?[a-zA-Z0-9]{1,5}\*?\)\s|\d{1,2}\.\s+\S)")
# A paragraph longer than this (the bundled corpus's longest is ~40,000 characters; a hostile
# file can hold one 50 MB line) is cut from one tokenizer pass per window: the text splitter
# counts every word separately and a whole-paragraph count holds all its word pieces at once,
# which took minutes and gigabytes on such a line.
HUGE_PARAGRAPH_CHARS = 100_000
_WINDOW_CHARS = 32_768
_MAX_PIECE_CHARS = 4_000  # also bounds runs without spaces, which count as one "[UNK]" piece
_TITLE_CHARS = 160  # a unit title: enough words to match a question against, not a passage
_PATH_TITLE_CHARS = 90  # an entry's or item's words inside a heading path


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
    unit: str = ""  # the citable unit for ranking (`§ 742.7` for `§ 742.7(a)(1)`); "" = section
    title: str = ""  # the unit's own words: a heading title, a defined term, an entry's heading
    tail: str | None = None  # what the embedding context adds after the heading path; None: the label


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
                        unit=unit.unit or unit.section,
                        unit_title=unit.title,
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
            units.append(_Unit(doc.meta.title, doc.meta.cite_as, preamble, title=doc.meta.title))
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
            title = label.title if label.kind != "heading" else (label.title or label.text)
            if not paragraphs:
                if is_leaf and heading.level > 1:
                    # A bare heading such as "§ 744.10 [Reserved]" is still a citable unit.
                    line_end = doc.text.find("\n", heading.start)
                    line_end = len(doc.text) if line_end == -1 else line_end
                    span = _strip(doc.text, heading.start, line_end)
                    if span:
                        units.append(_Unit(label.text, path, [span], title=title))
                continue
            text = doc.text
            if label.kind == "cfr":
                units.extend(_cfr_definition_units(text, label.text, path, title, paragraphs)
                             or _marker_units(text, label.text, path, title, paragraphs, CFR_SCHEME))
            elif label.kind == "usc":
                units.extend(_marker_units(text, label.text, path, title, paragraphs, USC_SCHEME))
            elif label.kind == "article" and "(" not in label.text:
                units.extend(_article_units(text, label.text, path, title, paragraphs))
            elif label.kind == "control_code" and "." not in label.text:
                units.extend(_entry_units(text, label.text, path, paragraphs))
            elif label.kind == "heading" and _DEFINITIONS_HEADING.match(label.text):
                units.extend(_annex_definition_units(text, label.text, path, paragraphs))
            elif label.kind == "eccn":
                units.append(_Unit(label.text, path, paragraphs, title=_first_words(text, paragraphs[0])))
            else:
                units.extend(_general_note_units(text, label.text, path, title, paragraphs)
                             or [_Unit(label.text, path, paragraphs, title=title)])
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
        """The heading path and the label, within the context budget: long middle parts (an
        entry's heading sentence, a parent item's words) are shortened first, then plain
        headings (a chapter, a category, an outer item) are dropped, outermost first; the
        document, every part that carries a legal reference, the nearest parent and the label
        itself stay."""
        parts = unit.heading_path.split(PATH_SEPARATOR)
        tail = unit.section if unit.tail is None else unit.tail
        if tail and not parts[-1].startswith(tail):
            parts.append(tail)
        budget = self.max_context_tokens
        whole = PATH_SEPARATOR.join(parts)
        if len(parts) < 3 or self.counter.count(whole) <= budget:
            return self.counter.truncate(whole, budget)
        short = parts
        for cap in (16, 10, 6):
            short = [parts[0]] + [self._shorten(p, cap) for p in parts[1:-1]] + [parts[-1]]
            candidate = PATH_SEPARATOR.join(short)
            if self.counter.count(candidate) <= budget:
                return candidate
        for i in [i for i in range(1, len(parts) - 2) if heading_label(parts[i]).kind == "heading"]:
            short[i] = ""
            candidate = PATH_SEPARATOR.join(p for p in short if p)
            if self.counter.count(candidate) <= budget:
                return candidate
        return self.counter.truncate(PATH_SEPARATOR.join(p for p in short if p), budget)

    def _shorten(self, part: str, cap: int) -> str:
        cut = self.counter.truncate(part, cap)
        return part if cut == part else f"{cut}…"

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
            # Join only neighbours with nothing but blank lines (and list dashes) between them,
            # so a dropped provenance line never comes back inside a chunk.
            if packed and piece.start not in huge and _LIST_GAP.fullmatch(text[packed[-1].end : piece.start]):
                candidate = text[packed[-1].start : piece.end]
                if self.counter.count(candidate) <= budget:
                    packed[-1] = _Span(packed[-1].start, piece.end)
                    continue
            packed.append(piece)
        return packed

    def _split_long(self, text: str, para: _Span, budget: int) -> list[_Span]:
        splitter = RecursiveCharacterTextSplitter(
            # Not before a lower-case word: "*Note 3:* *6A003.b.4.b.* does not control …" ends no
            # sentence, and a chunk that opens "does not control …" reads as the opposite rule.
            separators=["\n\n", "\n", r"(?<=[.;:])\s+(?![a-z])", r"\s+", ""],
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


def _add(units: list[_Unit], section: str, path: str, para: _Span, unit: str = "", title: str = "",
         tail: str | None = None) -> None:
    """Append a paragraph to the last unit when it continues it, else open a new unit."""
    last = units[-1] if units else None
    if last is not None and (last.section, last.heading_path, last.unit) == (section, path, unit):
        last.paragraphs.append(para)
    else:
        units.append(_Unit(section, path, [para], unit, title, tail))


def _general_note_units(text: str, label: str, path: str, title: str,
                        paragraphs: list[_Span]) -> list[_Unit] | None:
    """The Wassenaar List's General Technology, Software and "Information Security" Notes are
    title lines inside one laid-out extract, not headings: each note is its own unit (as in EU
    Annex I, where they have headings), so a question about the General Software Note cites it
    and not the extract that also holds the other notes. None when there is no such line."""
    units: list[_Unit] = []
    note = ""
    for para in paragraphs:
        line_end = text.find("\n", para.start, para.end)
        match = _GENERAL_NOTE.match(text[para.start : para.end if line_end == -1 else line_end])
        if match:
            note = match.group(1)
        if note:
            _add(units, note, f"{path}{PATH_SEPARATOR}{note}", para, title=note)
        else:
            _add(units, label, path, para, title=title)
    return units if note else None


def _marker_units(text: str, label: str, path: str, title: str, paragraphs: list[_Span],
                  scheme: tuple[str, ...]) -> list[_Unit]:
    """Label each paragraph of a CFR or U.S. Code section with its `(a)(1)(i)` designation.

    A CFR source note `[65 FR 55178 …]` closes the paragraphs (what follows is the section's
    own); in the U.S. Code the source credit `*(Pub. L. …)*` ends the text and the editorial and
    statutory notes after it belong to the section as a whole."""
    units: list[_Unit] = []
    stack: list[tuple[int, str]] = []
    # The last marker of an inline list read as text ("(a) Wide Area Network (WAN); … (g) Trunked."
    # inside § 740.17(b)(2)(i)(A)): its next item is text too, even where it would also continue
    # the paragraphs ("(c)" after § 740.17(b)).
    inline: str | None = None
    notes = False
    markers_per_para = [leading_markers(text[p.start : p.end]) for p in paragraphs]
    for i, para in enumerate(paragraphs):
        markers = markers_per_para[i]
        body = text[para.start : para.end]
        if _FR_SOURCE_NOTE.match(body):
            stack, inline = [], None
        elif scheme is USC_SCHEME and _USC_NOTES.match(body):
            stack, notes = [], True
        elif markers and not notes:
            following = next((m[0] for m in markers_per_para[i + 1 :] if m), None)
            level = -1
            for n, marker in enumerate(markers):
                level = choose_level(marker, stack, following if n == 0 else None, level, scheme)
                if level < 0:
                    break
                if n == 0 and ((inline is not None and continues_list(inline, marker))
                               or goes_back(marker, level, stack, scheme)):
                    inline = marker  # text of the paragraph above: its designation stands
                    break
                inline = None
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, marker))
        _add(units, label + format_markers([m for _, m in stack]), path, para, label, title)
    return units


def _cfr_definition_units(text: str, label: str, path: str, title: str,
                          paragraphs: list[_Span]) -> list[_Unit] | None:
    """A definitions section (§ 772.1): each defined term is its own unit, labelled with the
    section and keyed by the term (`§ 772.1 “Intrusion software”`); the numbered paragraphs
    inside a definition are the definition's, not the section's. None: not such a section."""
    terms: list[tuple[str, str] | None] = []
    previous = ""
    for para in paragraphs:
        body = text[para.start : para.end]
        found = None if NOTE_HEADER.match(previous.strip()) else cfr_definition_term(body)
        terms.append(None if found is None else (found[0], definition_qualifier(body, found[1])))
        previous = body
    if sum(1 for t in terms if t) < 5:
        return None
    counts: dict[str, int] = {}
    for term in terms:
        if term:
            counts[term[0].lower()] = counts.get(term[0].lower(), 0) + 1
    units: list[_Unit] = []
    current: tuple[str, str, str] | None = None  # (unit key, heading path, term)
    used: set[str] = set()
    for para, term in zip(paragraphs, terms):
        if _FR_SOURCE_NOTE.match(text[para.start : para.end]):
            current = None
        elif term:
            word, qualifier = term
            shown = f"{word} ({qualifier})" if qualifier and counts[word.lower()] > 1 else word
            key = f"{label} “{shown}”"
            n = 2
            while key in used:  # the same headword twice without a qualifier
                key = f"{label} “{shown}” ({n})"
                n += 1
            used.add(key)
            current = (key, f"{path}{PATH_SEPARATOR}“{shown}”", shown)
        if current is None:
            _add(units, label, path, para, label, title)
        else:
            _add(units, label, current[1], para, current[0], current[2], "")
    return units


def _annex_definition_units(text: str, label: str, path: str, paragraphs: list[_Span]) -> list[_Unit]:
    """"DEFINITIONS OF TERMS USED IN THIS ANNEX": each `"Term" (cat) means …` paragraph opens a
    unit labelled as the Wassenaar document labels its definitions, `Definition of "term"`;
    its Notes and lettered items follow it."""
    found = [annex_definition_term(text[p.start : p.end]) for p in paragraphs]
    counts: dict[str, int] = {}
    for term in found:
        if term:
            counts[term[0].lower()] = counts.get(term[0].lower(), 0) + 1
    units: list[_Unit] = []
    current: tuple[str, str, str] | None = None
    for para, term in zip(paragraphs, found):
        if term:
            word, qualifier = term
            section = definition_label(word, qualifier if counts[word.lower()] > 1 else "")
            current = (section, f"{path}{PATH_SEPARATOR}{section}", word)
        if current is None:
            _add(units, label, path, para, label, label)
        else:
            _add(units, current[0], current[1], para, current[0], current[2])
    return units


@dataclass
class _Block:
    """A paragraph of an Article cut at its list items: `- (a) …`, `   - (i) …`."""

    span: _Span
    indent: int
    dash: int  # column of the list item's dash, -1 for a paragraph that is not a list item
    body: str  # the text after the dash


def _article_blocks(text: str, paragraphs: list[_Span]) -> list[_Block]:
    blocks: list[_Block] = []
    for para in paragraphs:
        start = para.start
        dash = -1
        pos = para.start
        while pos < para.end:
            line_end = text.find("\n", pos, para.end)
            line_end = para.end if line_end == -1 else line_end
            line = text[pos:line_end]
            indent = len(line) - len(line.lstrip())
            item = _LIST_ITEM.match(line)
            # A list item opens a block; so does a line indented no deeper than the last item's
            # dash (it continues the enclosing paragraph, e.g. a definition's closing words).
            if pos > start and (item or (dash >= 0 and indent <= dash)):
                blocks.append(_make_block(text, start, pos))
                start = pos
            if pos == start:
                dash = len(item.group(1)) if item else -1
            pos = line_end + 1
        blocks.append(_make_block(text, start, para.end))
    return [b for b in blocks if b.span.end > b.span.start]


def _make_block(text: str, start: int, end: int) -> _Block:
    """A block's span leaves out its list dash: `- (a) text` is quoted as `(a) text`."""
    line = text[start:end]
    indent = len(line) - len(line.lstrip(" \t"))
    item = _LIST_ITEM.match(line)
    span = _strip(text, start + (item.end() if item else 0), end) or _Span(start, start)
    return _Block(span, indent, len(item.group(1)) if item else -1, text[span.start : span.end])


def _article_units(text: str, label: str, path: str, title: str, paragraphs: list[_Span]) -> list[_Unit]:
    """Numbered paragraphs `1.` or `(1)`, points `(a)` and sub-points `(i)` of an Article:
    `Article 5(2)`, `Article 4(1)(b)(ii)`. A definition `(20) ‘…’ means` is its own unit
    (`Article 2(20)`); a plain paragraph after a list closes the points (it continues the
    numbered paragraph, e.g. "Authorisations issued … shall be valid …" in Article 12(1))."""
    units: list[_Unit] = []
    blocks = _article_blocks(text, paragraphs)
    markers_per_block = [
        ([] if _EU_PARAGRAPH.match(b.body) and b.dash < 0 else leading_markers(b.body)) for b in blocks]
    stack: list[tuple[int, str, int]] = []  # (depth, marker, dash column)
    definition: tuple[str, str] | None = None  # (unit key, term) of the open definition
    for i, block in enumerate(blocks):
        numbered = _EU_PARAGRAPH.match(block.body) if block.dash < 0 else None
        markers = markers_per_block[i]
        if numbered:
            stack = [(0, numbered.group(1), -1)]
            definition = None
        elif markers:
            following = next((m[0] for m in markers_per_block[i + 1 :] if m), None)
            level = -1
            for n, marker in enumerate(markers):
                level = choose_level(marker, [(d, m) for d, m, _ in stack], following if n == 0 else None,
                                     level, ARTICLE_SCHEME)
                if level < 0:
                    break
                while stack and stack[-1][0] >= level:
                    stack.pop()
                stack.append((level, marker, block.dash))
                if level == 0:
                    term = _ARTICLE_DEFINITION.match(block.body)
                    definition = (f"{label}({marker})", term.group("t")) if term else None
        elif block.dash < 0:
            while len(stack) > 1 and stack[-1][2] >= block.indent:
                stack.pop()
        section = label + format_markers([m for _, m, _ in stack])
        if definition is not None:
            term_path = f"{path}{PATH_SEPARATOR}‘{definition[1]}’"
            _add(units, section, term_path, block.span, definition[0], definition[1])
        else:
            _add(units, section, path, block.span, label, title)
    return units


def _entry_units(text: str, code: str, path: str, paragraphs: list[_Span]) -> list[_Unit]:
    """An EU Annex I entry whose text is one table row `|  | 5A001 | Telecommunications … a. … |`:
    the cell's words only (never the pipes or the code cell), cut at its inline sub-items. The
    heading sentence is the entry's unit `5A001`; `j. …` is `5A001.j` with its lower items
    (`5A001.j.1`) as units of their own, each keyed to its top item for ranking; a Note stays
    with the item it follows. Every unit's heading path carries the entry's heading sentence."""
    units: list[_Unit] = []
    entry_path = path
    for para in paragraphs:
        row = _ENTRY_ROW.match(text[para.start : para.end]) if "\n" not in text[para.start : para.end] else None
        cell = _strip(text, para.start + row.start("cell"), para.start + row.end("cell")) if row else None
        if cell is None:
            _add(units, code, entry_path, para, code, "")
            continue
        words = text[cell.start : cell.end]
        items = inline_items(words, code)
        heading_end = cell.start + (items[0].start if items else len(words))
        heading_words = _lead(text[cell.start : heading_end])
        entry_path = f"{path} {_clip(heading_words, _PATH_TITLE_CHARS)}" if heading_words else path
        head = _strip(text, cell.start, heading_end)
        if head:
            _add(units, code, entry_path, head, code, heading_words)
        leads: dict[tuple[str, ...], str] = {}
        for n, item in enumerate(items):
            end = cell.start + items[n + 1].start if n + 1 < len(items) else cell.end
            span = _strip(text, cell.start + item.start, end)
            if span is None:
                continue
            body = text[span.start : span.end]
            marker, _, rest = body.partition(" ")
            lead = _lead(rest)
            leads[item.path] = f"{marker} {_clip(lead, _PATH_TITLE_CHARS)}"
            ancestors = [leads[item.path[:k]] for k in range(1, len(item.path)) if item.path[:k] in leads]
            item_path = PATH_SEPARATOR.join([entry_path, *ancestors])
            _add(units, item.label(code), item_path, span, f"{code}.{item.path[0]}", lead, marker)
    return units


def _lead(words: str) -> str:
    """An item's own words up to its first colon or semicolon, for titles and heading paths."""
    words = re.split(r"(?<=[:;])\s", words.strip(), maxsplit=1)[0]
    return _clip(words.rstrip(":;").strip(), _TITLE_CHARS)


def _clip(words: str, limit: int) -> str:
    if len(words) <= limit:
        return words
    cut = words.rfind(" ", 0, limit)
    return words[: cut if cut > limit // 2 else limit].rstrip(" ,;:") + "…"


def _first_words(text: str, span: _Span) -> str:
    return _clip(" ".join(text[span.start : span.end].split()), _TITLE_CHARS)


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
