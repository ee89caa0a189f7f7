"""Records that cross module boundaries: document metadata, parsed documents, chunks."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DOC_TYPES = ("regulation", "control_list", "guidance", "statement", "report", "reading_list", "other")
DOC_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


def _as_text(value: Any) -> str:
    """YAML gives dates, lists and maps for some provenance keys; store them as readable text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, (list, tuple)):
        return "; ".join(_as_text(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


class DocumentMeta(BaseModel):
    """Provenance of one document; citations carry it so users can check the official text."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(pattern=DOC_ID_PATTERN)
    title: str = Field(min_length=1)
    cite_as: str = Field(min_length=1)
    doc_type: Literal[DOC_TYPES] = "other"  # type: ignore[valid-type]
    jurisdiction: str = "unspecified"
    authority: str = ""
    source_url: str = ""
    obtained_from: str = ""
    as_of: str = ""  # the version date of the text, an ISO date in the bundled corpus
    as_of_note: str = ""  # how that date was established: provenance detail, not answer text
    license: str = ""
    completeness: str = "unknown"
    completeness_note: str = ""
    index: bool = True

    @field_validator(
        "title", "cite_as", "jurisdiction", "authority", "source_url", "obtained_from",
        "as_of", "as_of_note", "license", "completeness", "completeness_note", mode="before",
    )
    @classmethod
    def _textify(cls, value: Any) -> str:
        return _as_text(value)

    @model_validator(mode="after")
    def _require_provenance_words(self) -> DocumentMeta:
        if not self.jurisdiction:
            self.jurisdiction = "unspecified"
        if not self.completeness:
            self.completeness = "unknown"
        return self

    @property
    def completeness_status(self) -> Literal["full", "partial", "unknown"]:
        """`full`/`partial` as the corpus README defines, whatever note follows the word."""
        word = re.split(r"[\s—(,;:-]", self.completeness.strip().lower(), maxsplit=1)[0]
        if word in ("full", "complete"):
            return "full"
        if word == "partial":
            return "partial"
        return "unknown"


@dataclass(frozen=True)
class Heading:
    """A heading found in a document's text; it opens a citable unit."""

    level: int
    text: str
    start: int  # offset of the heading line in ParsedDocument.text
    body_start: int  # offset just after the heading line


@dataclass
class ParsedDocument:
    """A loader's output: the text chunk offsets refer to, its headings, and PDF page spans."""

    meta: DocumentMeta
    text: str
    headings: list[Heading]
    path: str
    # Text before this offset (front matter) is never chunked.
    body_start: int = 0
    # (start offset, page number) for each page of a PDF, in order; empty for other formats.
    page_starts: list[tuple[int, int]] = field(default_factory=list)
    # Offsets of lines that are page furniture (running headers, footers), never chunk text.
    skip_lines: frozenset[int] = frozenset()

    def page_at(self, offset: int) -> int | None:
        page = None
        for start, number in self.page_starts:
            if start > offset:
                break
            page = number
        return page


class Chunk(BaseModel):
    """One retrievable passage; `text == source_text[start:end]` always holds."""

    chunk_id: str
    doc_id: str
    ordinal: int
    cite_as: str
    title: str
    section: str
    heading_path: str
    # Heading context prepended for the embedding (the heading path, cut to a token budget).
    context: str
    text: str
    start: int
    end: int
    page: int | None = None
    token_count: int
    jurisdiction: str
    doc_type: str
    as_of: str
    source_url: str
    completeness: str
    # The citable unit the chunk belongs to, for ranking and grouping: `§ 742.7` for
    # `§ 742.7(a)(1)`, `Article 5` for `Article 5(2)`, `Article 2(20)` (a definition is its own),
    # `5A001.j` for `5A001.j.1`, `§ 772.1 “Intrusion software”` for one definition of § 772.1.
    # Two chunks are parts of one unit exactly when (doc_id, unit) is equal. "" in indexes
    # written before it existed: read it as `section`.
    unit: str = ""
    # The unit's own words, for matching a question's wording: a heading's title ("Crime control
    # and detection"), a defined term ("Intrusion software"), an entry's heading sentence.
    unit_title: str = ""

    @property
    def embed_text(self) -> str:
        """What the embedding model sees: where the passage sits, then the passage itself."""
        return f"{self.context}\n{self.text}" if self.context else self.text
