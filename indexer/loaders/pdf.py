"""PDF through pypdf: text per page, page numbers kept, legal headings recognised in the text."""

from __future__ import annotations

import io
import re
import logging
from pathlib import Path

from pypdf import PdfReader
from pypdf.errors import FileNotDecryptedError, PdfReadError, PyPdfError

from indexer.loaders.errors import LoadError
from indexer.loaders.headings import detect_headings
from indexer.loaders.metadata import build_meta
from indexer.records import ParsedDocument

PAGE_SEPARATOR = "\n\n"


def load_pdf(path: Path, data: bytes, max_pages: int) -> ParsedDocument:
    if not data.startswith(b"%PDF-") and b"%PDF-" not in data[:1024]:
        raise LoadError("not a PDF file (no %PDF- header)")
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise LoadError("the PDF is encrypted with a password; decrypt it first")
            except (FileNotDecryptedError, NotImplementedError) as exc:
                raise LoadError(f"the PDF is encrypted and cannot be opened: {exc}") from None
        page_count = len(reader.pages)
    except LoadError:
        raise
    except (PdfReadError, PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoadError(f"the PDF is damaged or truncated: {exc}") from None
    if page_count == 0:
        raise LoadError("the PDF has no pages")
    if page_count > max_pages:
        raise LoadError(f"the PDF has {page_count} pages, more than the limit of {max_pages}")
    parts: list[str] = []
    page_starts: list[tuple[int, int]] = []
    offset = 0
    unreadable: list[int] = []
    for number, page in enumerate(reader.pages, start=1):
        try:
            page_text = page.extract_text() or ""
        except Exception:  # noqa: BLE001 - one broken page must not lose the others
            unreadable.append(number)
            page_text = ""
        page_starts.append((offset, number))
        parts.append(page_text)
        offset += len(page_text) + len(PAGE_SEPARATOR)
    text = PAGE_SEPARATOR.join(parts)
    if not text.strip():
        raise LoadError("the PDF has no extractable text (scanned images need OCR first)")
    if len(unreadable) == page_count:
        raise LoadError("no page of the PDF could be read")
    info = _info_title(reader)
    meta = build_meta(path, {}, info)
    furniture, first_seen = _page_furniture(text, page_starts)
    headings = detect_headings(text, skip=furniture, extra=first_seen, caps=True)
    return ParsedDocument(
        meta=meta, text=text, headings=headings, path=str(path), page_starts=page_starts,
        skip_lines=furniture,
    )


def _page_furniture(text: str, page_starts: list[tuple[int, int]]) -> tuple[frozenset[int], dict[int, int]]:
    """Running headers and footers: lines repeated at the top or bottom of several pages.

    They are dropped from passages; the first time a running header in capitals appears
    (e.g. "DUAL-USE LIST - CATEGORY 5 – PART 1 – TELECOMMUNICATIONS") it opens a section.
    """
    if len(page_starts) < 4:
        return frozenset(), {}
    bounds = [start for start, _ in page_starts] + [len(text)]
    occurrences: dict[str, list[int]] = {}
    for i in range(len(page_starts)):
        lines = _lines(text, bounds[i], bounds[i + 1])
        edge = lines[:8] + lines[-3:]
        seen: set[str] = set()
        for offset, line in edge:
            key = re.sub(r"\d+", "#", " ".join(line.split()))
            if key not in seen:
                seen.add(key)
                occurrences.setdefault(key, []).append(offset)
    furniture: set[int] = set()
    first_seen: dict[int, int] = {}
    for key, offsets in occurrences.items():
        if len(offsets) < 3:
            continue
        furniture.update(offsets)
        letters = [ch for ch in key if ch.isalpha()]
        if len(letters) >= 6 and all(ch.isupper() for ch in letters):
            first_seen[offsets[0]] = 2
    return frozenset(furniture), first_seen


def _lines(text: str, start: int, end: int) -> list[tuple[int, str]]:
    lines = []
    pos = start
    while pos < end:
        line_end = text.find("\n", pos, end)
        line_end = end if line_end == -1 else line_end
        if text[pos:line_end].strip():
            lines.append((pos, text[pos:line_end]))
        pos = line_end + 1
    return lines


def _info_title(reader: PdfReader) -> str | None:
    try:
        title = reader.metadata.title if reader.metadata else None
    except Exception:  # noqa: BLE001 - metadata is optional
        return None
    return str(title).strip() or None if title else None
