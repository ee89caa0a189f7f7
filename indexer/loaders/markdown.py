"""Markdown with YAML front matter; headings come from a CommonMark parser, so `#` lines
inside code blocks are not mistaken for headings."""

from __future__ import annotations

import re
from pathlib import Path

from markdown_it import MarkdownIt

from indexer.loaders.errors import LoadError
from indexer.loaders.metadata import build_meta, split_front_matter
from indexer.loaders.text import decode_text
from indexer.records import Heading, ParsedDocument

# Block structure only: headings need no inline parse, and inline parsing of one hostile 50 MB
# line full of `*_[`<` took three minutes and 6 GB.
_PARSER = MarkdownIt("commonmark").disable("inline")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


def load_markdown(path: Path, data: bytes) -> ParsedDocument:
    text = decode_text(data)
    front, body_start = split_front_matter(text)
    line_starts = _line_starts(text, body_start)
    headings: list[Heading] = []
    tokens = _PARSER.parse(text[body_start:])
    for i, token in enumerate(tokens):
        if token.type != "heading_open" or not token.map:
            continue
        first, last = token.map
        start = line_starts[first]
        body = line_starts[last] if last < len(line_starts) else len(text)
        title = tokens[i + 1].content.strip()
        if title:
            headings.append(Heading(int(token.tag[1:]), title, start, body))
    first_title = next((h.text for h in headings if h.level == 1), None)
    meta = build_meta(path, front, first_title)
    if not text[body_start:].strip():
        raise LoadError("the document has no text after its front matter")
    return ParsedDocument(meta=meta, text=text, headings=headings, path=str(path), body_start=body_start)


def _line_starts(text: str, offset: int) -> list[int]:
    """Offsets of the lines as the parser numbers them: it ends a line at CR LF, LF or a lone CR
    (counting LF alone put a heading of a CR-only file past the end and crashed the run)."""
    return [offset] + [m.end() for m in _LINE_BREAK.finditer(text, offset)]
