"""Plain text: strict UTF-8, headings recognised from legal references at line starts."""

from __future__ import annotations

from pathlib import Path

from indexer.loaders.errors import LoadError
from indexer.loaders.headings import detect_headings
from indexer.loaders.metadata import build_meta
from indexer.records import ParsedDocument


def decode_text(data: bytes) -> str:
    """UTF-8 only: guessing an encoding could silently change legal text."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # else reported as binary for its NUL bytes
        raise LoadError("the text is UTF-16 or UTF-32 (it starts with a byte-order mark); "
                        "convert the file to UTF-8 and index it again")
    if b"\x00" in data[:8192]:
        raise LoadError("looks like a binary file (contains NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LoadError(
            f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "convert the file to UTF-8 and index it again"
        ) from None


def load_text(path: Path, data: bytes) -> ParsedDocument:
    text = decode_text(data)
    if not text.strip():
        raise LoadError("the file contains no text")
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), None)
    meta = build_meta(path, {}, first_line[:200] if first_line else None)
    return ParsedDocument(meta=meta, text=text, headings=detect_headings(text), path=str(path))
