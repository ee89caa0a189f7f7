"""Every bundled document carries valid provenance, and its text is the verbatim source."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from indexer.loaders import NOT_DOCUMENTS
from indexer.loaders.metadata import split_front_matter
from indexer.records import DOC_TYPES, DocumentMeta

from .conftest import CORPUS, SHARED

REQUIRED = ("id", "title", "cite_as", "doc_type", "jurisdiction", "source_url", "obtained_from",
            "as_of", "license", "completeness")
JURISDICTIONS = {"US", "EU", "UK", "Wassenaar", "multilateral"}
DOCUMENTS = sorted(p for p in CORPUS.rglob("*.md") if p.name.lower() not in NOT_DOCUMENTS)


def test_the_bundled_corpus_is_there() -> None:
    assert len(DOCUMENTS) >= 30
    assert (CORPUS / "README.md").exists()


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_front_matter_is_complete_and_valid(path: Path) -> None:
    front, body_start = split_front_matter(path.read_text(encoding="utf-8"))
    missing = [key for key in REQUIRED if not str(front.get(key) or "").strip()]
    assert not missing, f"{path.name} lacks {missing}"
    meta = DocumentMeta.model_validate(front)
    assert meta.id == path.stem, "id must be the file name without .md"
    assert meta.doc_type in DOC_TYPES
    assert meta.jurisdiction in JURISDICTIONS
    assert body_start > 0
    # as_of is the text's version date, an ISO date shown to users as is; how it was established
    # is in the optional as_of_note, which the metadata model keeps apart.
    assert datetime.date.fromisoformat(meta.as_of).isoformat() == meta.as_of, meta.as_of
    assert meta.as_of_note == str(front.get("as_of_note") or "").strip()
    if meta.index:
        assert meta.source_url.startswith("https://"), "indexed documents need an official URL"
        assert meta.completeness_status in {"full", "partial"}, meta.completeness[:80]
    else:
        assert meta.doc_type == "reading_list"


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/corpus is not beside the project")
@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_bundled_text_is_byte_identical_to_the_collected_source(path: Path) -> None:
    source = SHARED / path.relative_to(CORPUS)
    assert source.exists(), f"{path.name} has no collected source in ../shared/corpus"
    assert path.read_bytes() == source.read_bytes(), "legal text in corpus/ must stay verbatim"
