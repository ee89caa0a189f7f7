"""Chunking of the real bundled corpus follows legal structure and loses no text."""

from __future__ import annotations

import re
from functools import cache

import pytest

from indexer.chunker import NON_TEXT_LINE, Chunker
from indexer.loaders import discover, load_document
from indexer.records import Chunk, ParsedDocument
from indexer.tokens import TokenCounter
from regqa.config import Settings

from .conftest import CORPUS


@cache
def _chunked() -> dict[str, tuple[ParsedDocument, list[Chunk]]]:
    settings = Settings()
    chunker = Chunker(TokenCounter(settings.model_path), settings.max_tokens, settings.max_context_tokens)
    result = {}
    for path in discover([CORPUS]):
        doc = load_document(path, max_bytes=settings.max_file_bytes, max_pdf_pages=settings.max_pdf_pages)
        if doc.meta.index:
            result[doc.meta.id] = (doc, chunker.chunk(doc))
    return result


@pytest.fixture(scope="module")
def corpus() -> dict[str, tuple[ParsedDocument, list[Chunk]]]:
    return _chunked()


def _section(corpus, doc_id: str, section: str) -> list[Chunk]:  # noqa: ANN001
    return [c for c in corpus[doc_id][1] if c.section == section]


def test_cfr_section_has_its_heading_path(corpus) -> None:  # noqa: ANN001
    chunks = [c for c in corpus["15-cfr-part-742"][1] if c.section.startswith("§ 742.7")]
    assert chunks
    assert {c.heading_path for c in chunks} == {"15 CFR Part 742 › § 742.7 Crime control and detection"}
    first = _section(corpus, "15-cfr-part-742", "§ 742.7(a)(1)")  # long: split, same label
    assert first and "3A981" in "".join(c.text for c in first)
    assert first[0].text.startswith("(1) Crime control and detection instruments")
    assert first[0].cite_as == "15 CFR Part 742"
    assert first[0].jurisdiction == "US" and first[0].completeness == "partial"
    # (b) is its own unit, and the amendment history belongs to the section as a whole.
    assert _section(corpus, "15-cfr-part-742", "§ 742.7(b)")[0].text.startswith("(b) *Licensing policy.*")
    assert _section(corpus, "15-cfr-part-742", "§ 742.7")[0].text.startswith("[65 FR 55178")


def test_eccn_3a981_is_its_own_chunk(corpus) -> None:  # noqa: ANN001
    doc, _ = corpus["15-cfr-part-774-supp-1-ccl"]
    chunks = _section(corpus, "15-cfr-part-774-supp-1-ccl", "ECCN 3A981")
    assert len(chunks) == 1
    chunk = chunks[0]
    assert chunk.text.startswith("Polygraphs")
    assert "ECCN 3A991" not in chunk.text and "Electronic devices" not in chunk.text
    assert chunk.heading_path.endswith("› ECCN 3A981")


def test_eu_article_5_1_is_its_own_chunk(corpus) -> None:  # noqa: ANN001
    chunks = _section(corpus, "eu-2021-821-dual-use-regulation", "Article 5(1)")
    assert len(chunks) == 1
    assert "An authorisation shall be required for the export of cybersurveillance items" in chunks[0].text
    assert "Where an exporter is aware" not in chunks[0].text  # that is Article 5(2)
    assert "Source:" not in chunks[0].text  # provenance lines are not regulation text


def test_control_list_entries_keep_their_codes(corpus) -> None:  # noqa: ANN001
    assert _section(corpus, "eu-2021-821-annex-i-control-list", "5A001.j")
    wa = _section(corpus, "wassenaar-2025-dual-use-list-cat4-cat5p1", "5.A.1.j")
    assert wa and "Internet Protocol (IP) network communications surveillance" in wa[0].text
    assert not any("- full_content:" in c.text for c in corpus["eu-2021-821-annex-i-control-list"][1])


def test_roman_and_letter_paragraphs_are_told_apart(corpus) -> None:  # noqa: ANN001
    sections = {c.section for c in corpus["15-cfr-part-744"][1]}
    assert any(re.fullmatch(r"§ 744\.\d+\([a-h]\)\(\d+\)\(i\)", s) for s in sections)
    labels = {c.section for c in corpus["15-cfr-part-740"][1]}
    assert "§ 740.2(a)(9)" in labels or any(s.startswith("§ 740.2(a)") for s in labels)


def test_every_chunk_is_exact_source_text_within_one_unit(corpus) -> None:  # noqa: ANN001
    for doc, chunks in corpus.values():
        starts = sorted(h.start for h in doc.headings)
        for chunk in chunks:
            assert doc.text[chunk.start : chunk.end] == chunk.text
            inside = [s for s in starts if chunk.start < s < chunk.end]
            assert not inside, f"{chunk.chunk_id} crosses a heading"


def test_chunks_fit_the_embedding_window(corpus) -> None:  # noqa: ANN001
    settings = Settings()
    counter = TokenCounter(settings.model_path)
    longest = max(counter.count(c.embed_text) + 2 for _, chunks in corpus.values() for c in chunks)
    assert longest <= settings.max_tokens


def test_no_document_text_is_lost(corpus) -> None:  # noqa: ANN001
    """Every line of body text (not provenance, fences or headings) is inside some chunk."""
    for doc, chunks in corpus.values():
        covered = sorted((c.start, c.end) for c in chunks)
        heading_lines = {h.start for h in doc.headings}
        pos = doc.body_start
        for line in doc.text[doc.body_start :].split("\n"):
            start = pos
            pos += len(line) + 1
            if not line.strip() or NON_TEXT_LINE.match(line) or start in heading_lines:
                continue
            offset = start + len(line) - len(line.lstrip())
            assert any(a <= offset < b for a, b in covered), f"{doc.meta.id}: line lost: {line[:80]!r}"


def test_chunk_ids_are_stable_and_unique(corpus) -> None:  # noqa: ANN001
    ids = [c.chunk_id for _, chunks in corpus.values() for c in chunks]
    assert len(ids) == len(set(ids))
    again = _chunked.__wrapped__()  # chunk everything a second time from scratch
    assert [c.chunk_id for _, chunks in again.values() for c in chunks] == ids
