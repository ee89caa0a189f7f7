"""Loaders turn a file into a ParsedDocument, or raise LoadError with a reason to show."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from indexer.loaders.errors import LoadError
from indexer.loaders.html import load_html
from indexer.loaders.markdown import load_markdown
from indexer.loaders.pdf import load_pdf
from indexer.loaders.text import load_text
from indexer.records import ParsedDocument

SUFFIXES = {
    ".md": "markdown", ".markdown": "markdown",
    ".html": "html", ".htm": "html",
    ".pdf": "pdf",
    ".txt": "text", ".text": "text",
}
# Files in a corpus folder that describe the corpus rather than belong to it.
NOT_DOCUMENTS = {"readme.md", "manifest.md", "license", "license.md", "readme.txt"}

__all__ = ["LoadError", "SUFFIXES", "discover", "load_document"]


def discover(paths: Iterable[Path]) -> Iterator[Path]:
    """Files under the given paths in a stable order; sidecars and corpus READMEs are not documents."""
    for root in paths:
        if root.is_file():
            yield root
            continue
        for path in sorted(root.rglob("*")):
            if not path.is_file() or any(part.startswith(".") for part in path.relative_to(root).parts):
                continue
            if path.name.endswith(".meta.yaml") or path.name.lower() in NOT_DOCUMENTS:
                continue
            yield path


def load_document(path: Path, *, max_bytes: int, max_pdf_pages: int) -> ParsedDocument:
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:  # name bytes that are not UTF-8 arrive as lone surrogates
        raise LoadError("the file name is not valid UTF-8, so the index cannot record it; rename the file") from None
    kind = SUFFIXES.get(path.suffix.lower())
    if kind is None:
        supported = ", ".join(sorted(SUFFIXES))
        raise LoadError(f"unsupported file type {path.suffix or '(none)'!r} (supported: {supported})")
    try:
        size = path.stat().st_size
        if size == 0:
            raise LoadError("the file is empty (0 bytes)")
        if size > max_bytes:
            raise LoadError(f"the file is {size:,} bytes, over the limit of {max_bytes:,} (REGQA_MAX_FILE_BYTES)")
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"cannot read the file: {exc.strerror or exc}") from None
    if kind == "markdown":
        return load_markdown(path, data)
    if kind == "html":
        return load_html(path, data)
    if kind == "pdf":
        return load_pdf(path, data, max_pdf_pages)
    return load_text(path, data)
