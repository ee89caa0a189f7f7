"""Property-based tests (hypothesis) for the chunker and the citable-label parser.

The chunker's promises are what citations rest on: a chunk is verbatim source text at its
recorded offsets, it never spans two citable units, together the chunks lose no text, each
fits the embedding window, and ids are reproducible. Generated documents mix legal headings,
paragraph markers and hostile characters (zero-width, control, CJK, runs without spaces).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import indexer.chunker as chunker_module
from assistant.references import find_references, normalise
from indexer.chunker import NON_TEXT_LINE, Chunker
from indexer.labels import Label, format_markers, heading_label, leading_markers, marker_levels
from indexer.loaders import LoadError
from indexer.loaders.markdown import load_markdown
from indexer.loaders.text import load_text
from indexer.records import ParsedDocument
from indexer.tokens import TokenCounter
from regqa.config import Settings

FAST = settings(max_examples=40, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@cache
def counter() -> TokenCounter:
    return TokenCounter(Settings().model_path)


# -- generated documents ------------------------------------------------------------------------

HEADING_TITLES = ["Article 5", "Article 12 — Authorisation", "§ 742.7 Crime control and detection.",
                  "ECCN 3A981", "5A001 Telecommunications systems", "5A001.j", "Annex I",
                  "Supplement No. 4 to Part 744", "Definitions", "5. A. 1. j. Surveillance systems",
                  "Recital (4)", "ML10. Aircraft"]
WORDS = ["export", "licence", "authorisation", "shall", "be", "required", "for", "surveillance",
         "items", "§", "742.7", "(a)", "(1)", "(ii)", "ECCN", "3A981", "Article", "5(1)", "Annex",
         "the", "exporter;", "competent", "authority.", "e.g.", "—", "“quoted”", "Güter", "出口许可证",
         "ترخيص", "\u200b", "\x07", "\ufeff", "x" * 130, "https://example.gov/a?b=c&d=e", "ﬁ", "é"]
PREFIXES = ["", "", "", "(a) ", "(b)(1) ", "(i) ", "(ii) ", "1. ", "2. ", "Source: ", "```", "- code: `",
            "- (a) ", "   - (i) ", "- (20) ‘term’ means "]

word = st.one_of(st.sampled_from(WORDS), st.text(min_size=1, max_size=15))
paragraph = st.builds(
    lambda prefix, words, seps: prefix + "".join(w + s for w, s in zip(words, seps)).strip(),
    st.sampled_from(PREFIXES),
    st.lists(word, min_size=1, max_size=120),
    st.lists(st.sampled_from([" ", " ", " ", " ", "\n", "  ", "\t", ". "]), min_size=120, max_size=120),
)
block = st.one_of(
    st.tuples(st.just("heading"), st.integers(1, 4), st.sampled_from(HEADING_TITLES)),
    st.tuples(st.just("para"), st.just(0), paragraph),
)
documents = st.lists(block, min_size=1, max_size=14)


def markdown_of(blocks: list[tuple[str, int, str]], front_matter: bool) -> str:
    parts = ["---\nid: generated\ncite_as: Generated Act\njurisdiction: EU\n---\n"] if front_matter else []
    for kind, level, text in blocks:
        parts.append(f"{'#' * level} {text}\n\n" if kind == "heading" else f"{text}\n\n")
    return "".join(parts)


def text_of(blocks: list[tuple[str, int, str]]) -> str:
    return "".join(f"{text}\n" if kind == "heading" else f"{text}\n\n" for kind, _, text in blocks)


@contextmanager
def huge_paragraph_path(enabled: bool) -> Iterator[None]:
    """Shrink the huge-paragraph thresholds so small generated paragraphs take that path too."""
    saved = (chunker_module.HUGE_PARAGRAPH_CHARS, chunker_module._WINDOW_CHARS, chunker_module._MAX_PIECE_CHARS)
    if enabled:
        chunker_module.HUGE_PARAGRAPH_CHARS, chunker_module._WINDOW_CHARS, chunker_module._MAX_PIECE_CHARS = (
            300, 900, 250)
    try:
        yield
    finally:
        chunker_module.HUGE_PARAGRAPH_CHARS, chunker_module._WINDOW_CHARS, chunker_module._MAX_PIECE_CHARS = saved


def heading_ranges(doc: ParsedDocument) -> list[tuple[int, int]]:
    return [(h.start, h.body_start) for h in doc.headings]


def assert_chunk_properties(doc: ParsedDocument, chunker: Chunker) -> None:
    chunks = chunker.chunk(doc)
    text = doc.text
    starts = sorted(h.start for h in doc.headings)
    for chunk in chunks:
        # Verbatim source text at the recorded offsets, never starting or ending in whitespace.
        assert text[chunk.start : chunk.end] == chunk.text and chunk.text.strip() == chunk.text
        # Never across a heading: one citable unit per chunk.
        assert not [s for s in starts if chunk.start < s < chunk.end], chunk.section
        # The recorded count is the real one, and passage plus context fits the window.
        assert chunk.token_count == counter().count(chunk.text)
        assert counter().count(chunk.embed_text) + 2 <= chunker.max_tokens
    # Coverage: every visible character of every body line (not a heading line, not a
    # provenance line the chunker drops by design) is inside some chunk.
    covered = bytearray(len(text))
    for chunk in chunks:
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
    for lo, hi in heading_ranges(doc):
        covered[lo:hi] = b"\x01" * (hi - lo)  # heading lines are labels, not body text
    pos = doc.body_start
    for line in text[doc.body_start :].split("\n"):
        start, pos = pos, pos + len(line) + 1
        if NON_TEXT_LINE.match(line) or start in doc.skip_lines:
            continue
        dash = re.match(r"\s*- ", line)  # a list item's dash is Markdown, not text to quote
        skip = dash.end() if dash else 0
        lost = [ch for i, ch in enumerate(line) if i >= skip and not ch.isspace() and not covered[start + i]]
        assert not lost, f"text lost from line {line[:60]!r}: {''.join(lost)[:40]!r}"
    # Deterministic and unique ids: chunking again from scratch gives the same chunks.
    again = Chunker(counter(), chunker.max_tokens, chunker.max_context_tokens).chunk(doc)
    assert [c.chunk_id for c in again] == [c.chunk_id for c in chunks]
    assert len({c.chunk_id for c in chunks}) == len(chunks)
    assert all(c.chunk_id.startswith(f"{doc.meta.id}:") for c in chunks)


WINDOWS = st.sampled_from([(256, 48), (96, 16), (48, 0), (40, 8)])


@pytest.mark.parametrize("huge", [False, True], ids=["splitter", "huge-paragraph-path"])
@FAST
@given(blocks=documents, front_matter=st.booleans(), window=WINDOWS)
def test_markdown_chunks_keep_their_promises(huge: bool, blocks: list, front_matter: bool,
                                             window: tuple[int, int]) -> None:
    try:
        doc = load_markdown(Path("generated.md"), markdown_of(blocks, front_matter).encode("utf-8"))
    except LoadError:
        assume(False)  # e.g. nothing but headings: refused with a reason, not chunked
        return
    with huge_paragraph_path(huge):
        assert_chunk_properties(doc, Chunker(counter(), *window))


@pytest.mark.parametrize("huge", [False, True], ids=["splitter", "huge-paragraph-path"])
@FAST
@given(blocks=documents, window=WINDOWS)
def test_plain_text_chunks_keep_their_promises(huge: bool, blocks: list, window: tuple[int, int]) -> None:
    try:
        doc = load_text(Path("generated.txt"), text_of(blocks).encode("utf-8"))
    except LoadError:
        assume(False)
        return
    with huge_paragraph_path(huge):
        assert_chunk_properties(doc, Chunker(counter(), *window))


def test_characters_the_tokenizer_drops_are_not_repeated_in_two_chunks() -> None:
    """A line of only a zero-width space counts 0 word pieces; the text splitter used to carry it
    into the next chunk too, so that chunk was not source text and the whole run crashed."""
    for words in range(8, 80):
        text = "Odd text\n" + "a " * words + "\n\u200b\n" + "b " * 10
        assert_chunk_properties(load_text(Path("odd.txt"), text.encode("utf-8")), Chunker(counter(), 64, 8))


def test_lone_carriage_returns_end_lines_for_headings_too() -> None:
    """The Markdown parser ends lines at a lone CR; heading offsets must agree (was IndexError)."""
    doc = load_markdown(Path("cr.md"), b"Intro\r\r# Article 5\r\rThe exporter shall apply.\r# Article 6\rMore.\r")
    assert [doc.text[h.start : h.body_start].strip() for h in doc.headings] == ["# Article 5", "# Article 6"]
    assert_chunk_properties(doc, Chunker(counter(), 256, 48))


@FAST
@given(run=st.text(alphabet=st.sampled_from(list("ab .;:\n\u200b\x01\x1c\u00a0中+/")), min_size=1, max_size=3000))
def test_one_long_paragraph_of_odd_characters(run: str) -> None:
    """Zero-width, control and no-space runs in one paragraph, on both cutting paths."""
    try:
        doc = load_text(Path("odd.txt"), ("Odd text\n" + run).encode("utf-8"))
    except LoadError:
        assume(False)
        return
    for huge in (False, True):
        with huge_paragraph_path(huge):
            assert_chunk_properties(doc, Chunker(counter(), 64, 8))


# -- citable labels ------------------------------------------------------------------------------

KINDS = {"cfr", "eccn", "article", "recital", "supplement", "annex", "control_code", "wassenaar",
         "munitions", "commitment", "question", "heading"}


@settings(max_examples=300, deadline=None, database=None)
@given(text=st.text(max_size=200))
def test_label_parsers_never_crash_on_arbitrary_text(text: str) -> None:
    label = heading_label(text)
    assert isinstance(label, Label) and label.kind in KINDS
    markers = leading_markers(text)
    assert len(markers) <= 4
    for marker in markers:
        assert marker_levels(marker) is not None
    assert isinstance(find_references(text), list)
    assert isinstance(normalise(text), str)


titles = st.sampled_from(["", " Crime control and detection.", " — Authorisation", " Telecommunications systems"])
cfr = st.builds(lambda part, sec, letter: f"§ {part}.{sec}{letter}", st.integers(700, 799), st.integers(1, 130),
                st.sampled_from(["", "", "a"]))
eccn = st.builds(lambda d, c, n, sub: f"{d}{c}{n:03d}{sub}", st.integers(0, 9), st.sampled_from("ABCDE"),
                 st.integers(0, 999), st.sampled_from(["", ".j", ".a.1", ".b.2.c"]))
article = st.builds(lambda n, paras: f"Article {n}{paras}", st.integers(1, 140),
                    st.sampled_from(["", "(1)", "(2)", "(1)(a)", "(20)"]))
wassenaar = st.builds(lambda c, g, n, sub: f"{c}.{g}.{n}{sub}", st.integers(0, 9), st.sampled_from("ABCDE"),
                      st.integers(1, 99), st.sampled_from(["", ".j", ".a.1"]))


@FAST
@given(label=cfr, title=titles)
def test_cfr_labels_round_trip(label: str, title: str) -> None:
    assert heading_label(label + title) == Label("cfr", label)
    squeezed = label.replace("§ ", "§")  # "§742.7" and "§§ 742.7" name the same section
    assert heading_label(squeezed + title).text == label
    assert heading_label("§" + label + title).text == label
    assert [r.label for r in find_references(f"What does {label} require?")] == [normalise(label)]


@FAST
@given(code=eccn, title=titles)
def test_eccn_and_control_codes_round_trip(code: str, title: str) -> None:
    assert heading_label(f"ECCN {code}{title}") == Label("eccn", f"ECCN {code}")
    assert heading_label(f"eccn {code[:5].lower()}{code[5:]}").text == f"ECCN {code}"  # canonical case
    assert heading_label(f"{code}{title}") == Label("control_code", code)
    found = find_references(f"Is this item in ECCN {code}?")
    assert found and found[0].label == normalise(f"ECCN {code}") == normalise(heading_label(f"ECCN {code}").text)


@FAST
@given(label=article, title=titles)
def test_article_labels_round_trip(label: str, title: str) -> None:
    assert heading_label(label + title) == Label("article", label)
    number, paragraphs = re.match(r"Article (\d+)(.*)", label).groups()
    assert heading_label(f"Art. {number} {paragraphs}".rstrip()).text == label  # "Art. 5 (1)" -> "Article 5(1)"
    assert find_references(f"Under {label}, is a licence needed?")[0].label == normalise(label)


@FAST
@given(label=wassenaar, spaced=st.booleans(), title=titles)
def test_wassenaar_entries_round_trip(label: str, spaced: bool, title: str) -> None:
    written = label.replace(".", ". ") + "." if spaced else label + "."  # "5. A. 1. j." as printed
    assert heading_label(written.strip() + title) == Label("wassenaar", label)


@FAST
@given(markers=st.lists(st.sampled_from(["a", "b", "1", "2", "i", "iv", "A", "*1*", "*ii*", "aa"]),
                        min_size=1, max_size=4))
def test_paragraph_markers_round_trip(markers: list[str]) -> None:
    written = "".join(f"({m})" for m in markers) + " Text of the paragraph."
    assert leading_markers(written) == markers
    assert format_markers(markers) == "".join(f"({m.strip('*')})" for m in markers)
    assert all(marker_levels(m) for m in markers)


# -- the inline enumeration of an EU Annex I entry ----------------------------------------------
#
# Entries are generated as trees of items (letters, then numbers, then letters …), written inline
# the way the official Annex I text does: a lead-in ending in ":" before each list, ";" between
# items, "or"/"and" before the last one, and Notes in italics that name items and carry lists of
# their own. The parser must give back exactly the tree that was written.

ITEM_WORDS = ["Equipment", "specially", "designed", "for", "the", "interception", "of", "voice", "data",
              "e.g.,", "i.e.", "1 000", "kHz.", "(IP)", '"software"', "'monitoring", "tools'", "Category",
              "5,", "Part", "2", "exceeding", "30", "W", "500 m", "ISO/IEC 7498-1", "(or", "better)"]
item_text = st.lists(st.sampled_from(ITEM_WORDS), min_size=1, max_size=8).map(" ".join)


@st.composite
def item_tree(draw: st.DrawFn, depth: int = 0) -> list:
    """A list of (text, children, note) items: at least two per list, as legal lists have."""
    count = draw(st.integers(2, 4 if depth else 6))
    items = []
    for _ in range(count):
        children = draw(item_tree(depth + 1)) if depth < 3 and draw(st.integers(0, 3)) == 0 else []
        note = draw(st.sampled_from(["", "", "", "italic", "bare", "named"]))
        items.append((draw(item_text), children, note))
    return items


def _marker(depth: int, n: int) -> str:
    return f"{chr(97 + n)}." if depth % 2 == 0 else f"{n + 1}."


def render_entry(code: str, heading: str, tree: list) -> tuple[str, list[tuple[str, int]]]:
    """The entry's text cell and the (label, offset) of every item marker in it."""
    parts: list[str] = [heading + " as follows:"]
    expected: list[tuple[str, int]] = []
    length = len(parts[0])

    def add(text: str) -> None:
        nonlocal length
        parts.append(" " + text)
        length += 1 + len(text)

    def walk(items: list, path: tuple[str, ...]) -> None:
        for n, (words, children, note) in enumerate(items):
            marker = _marker(len(path), n)
            label = ".".join((code, *path, marker[:-1]))
            closer = "or " if n == len(items) - 1 and n else ""
            if closer:
                add(closer.strip())
            expected.append((label, length + 1))
            end = ":" if children else (";" if n < len(items) - 1 else ";")
            add(f"{marker} {words}{' having any of the following' if children else ''}{end}")
            if note == "italic":
                add(f"*Note:* *{label}. does not control:* *a.* *toys;* *b.* *games.*")
            elif note == "bare":
                add(f"*Note:* *{label}. does not control any of the following:* a. *toys;* *or* b. *games.*")
            elif note == "named" and path:
                add(f"*Technical Note:* *For the purposes of {'.'.join((code, *path))}., 'x' means y.*")
            walk(children, (*path, marker[:-1]))

    walk(tree, ())
    return "".join(parts), expected


@FAST
@given(tree=item_tree(), heading=item_text)
def test_inline_enumeration_gives_back_the_written_tree(tree: list, heading: str) -> None:
    from indexer.labels import inline_items

    cell, expected = render_entry("5A001", heading, tree)
    items = inline_items(cell, "5A001")
    assert [(i.label("5A001"), i.start) for i in items] == expected


def _step_ok(previous: tuple[str, ...], current: tuple[str, ...]) -> bool:
    """A label follows the one before it: one level deeper, or a later item of an open list."""
    if len(current) == len(previous) + 1:
        return current[:-1] == previous
    level = len(current) - 1
    if current[:-1] != previous[:level]:
        return False
    before, now = previous[level], current[-1]
    same_kind = before.isdigit() == now.isdigit()
    order = (int(now) - int(before)) if now.isdigit() and before.isdigit() else (ord(now) - ord(before))
    return same_kind and order > 0


@settings(max_examples=200, deadline=None, database=None)
@given(words=st.lists(st.one_of(st.sampled_from(["a.", "b.", "c.", "1.", "2.", "3.", "i.", "j.", "*Note:*",
                                                 "*a.*", "5A001.b.1.", ";", ":", "or", "and"]),
                                st.text(min_size=1, max_size=6)), max_size=80))
def test_inline_labels_are_monotone_on_any_text(words: list[str]) -> None:
    from indexer.labels import inline_items

    cell = " ".join(words)
    items = inline_items(cell, "5A001")
    starts = [i.start for i in items]
    assert starts == sorted(set(starts))
    previous: tuple[str, ...] = ()
    for item in items:
        assert cell[item.start :].startswith(item.path[-1] + ".")
        assert _step_ok(previous, item.path) if previous else len(item.path) == 1, (previous, item.path)
        previous = item.path


@FAST
@given(tree=item_tree(), heading=item_text)
def test_entry_rows_chunk_into_exact_prose_units(tree: list, heading: str) -> None:
    """A whole Annex I document with one entry: every sub-item is a unit with its exact text,
    chunks never hold a pipe or the code cell, and nothing but pipes, spaces and the code cell
    is left out of the chunks."""
    cell, expected = render_entry("5A001", heading, tree)
    markdown = (f"---\nid: annex\ncite_as: Annex I\n---\n\n## Category 5\n\n### 5A001\n\n"
                f"|  |  |  |\n| --- | --- | --- |\n|  | 5A001 | {cell} |\n")
    doc = load_markdown(Path("annex.md"), markdown.encode("utf-8"))
    chunker = Chunker(counter(), 96, 24)
    chunks = chunker.chunk(doc)
    row_start = markdown.index("|  | 5A001 |")
    cell_start = row_start + len("|  | 5A001 | ")
    covered = bytearray(len(markdown))
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text and "|" not in chunk.text
        assert chunk.start >= cell_start and "5A001" in chunk.context
        covered[chunk.start : chunk.end] = b"\x01" * (chunk.end - chunk.start)
        assert chunk.unit == ".".join(chunk.section.split(".")[:2])
        assert counter().count(chunk.embed_text) + 2 <= chunker.max_tokens
    row = markdown[row_start : markdown.index("\n", row_start)]
    lost = "".join(ch for i, ch in enumerate(row) if not covered[row_start + i])
    assert lost.replace("|", "").replace("5A001", "", 1).strip() == ""
    sections = list(dict.fromkeys(c.section for c in chunks))
    assert sections == ["5A001"] + [label for label, _ in expected]
    for label, offset in expected:
        first = next(c for c in chunks if c.section == label)
        assert first.start == cell_start + offset
