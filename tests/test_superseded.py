"""Superseded duplicates among retrieval candidates (assistant/superseded.py), on the real texts
that are bundled twice: Annex I Part I definitions in the 2023 consolidation of Regulation (EU)
2021/821 and in Delegated Regulation (EU) 2025/2003."""

from __future__ import annotations

from pathlib import Path

from assistant.superseded import drop_superseded
from indexer.records import Chunk

from .conftest import CORPUS

OLD, NEW = "eu-2021-821-dual-use-regulation", "eu-2021-821-annex-i-control-list"


def _definition(doc: str) -> str:
    """The corpus line that defines "Vulnerability disclosure" in `doc`, verbatim."""
    text = (CORPUS / "eu-intl" / f"{doc}.md").read_text(encoding="utf-8")
    return next(line for line in text.splitlines() if line.startswith('"Vulnerability disclosure" (4)'))


def _chunk(chunk_id: str, doc: str, text: str, as_of: str, jurisdiction: str = "EU") -> Chunk:
    return Chunk(chunk_id=chunk_id, doc_id=doc, ordinal=0, cite_as=doc, title=doc, section="s",
                 heading_path="h", context="", text=text, start=0, end=len(text), token_count=1,
                 jurisdiction=jurisdiction, doc_type="regulation", as_of=as_of,
                 source_url="https://example.org", completeness="full")


def test_the_older_copy_of_a_definition_gives_way_to_the_newer_one() -> None:
    old_text, new_text = _definition(OLD), _definition(NEW)
    assert old_text != new_text  # "for the purpose of" / "for the purposes of": not an exact copy
    chunks = {c.chunk_id: c for c in (
        _chunk("old", OLD, old_text, "2023-05-26"), _chunk("new", NEW, new_text, "2025-11-15"),
        _chunk("other", OLD, "Article 5(1) An authorisation shall be required for the export of cyber-"
               "surveillance items not listed in Annex I if the exporter has been informed", "2023-05-26"))}
    scores = {"old": 0.9, "new": 0.8, "other": 0.5}
    assert drop_superseded(scores, chunks) == {"old": "new"}
    assert scores == {"new": 0.9, "other": 0.5}  # the newer text ranks where the older one did


def test_only_near_copies_from_dated_documents_of_one_jurisdiction_count() -> None:
    text = _definition(NEW)
    cases = {
        "same document": (_chunk("a", NEW, text, "2023-05-26"), _chunk("b", NEW, text, "2025-11-15")),
        "other jurisdiction": (_chunk("a", OLD, text, "2023-05-26"),
                               _chunk("b", "wassenaar", text, "2025-11-15", "Wassenaar")),
        "same date": (_chunk("a", OLD, text, "2025-11-15"), _chunk("b", NEW, text, "2025-11-15")),
        "undated": (_chunk("a", OLD, text, ""), _chunk("b", NEW, text, "2025-11-15")),
        "short formula": (_chunk("a", OLD, "(iv) License Exception TSU;", "2023-05-26"),
                          _chunk("b", NEW, "(iv) License Exception TSU;", "2025-11-15")),
        "different text": (_chunk("a", OLD, text, "2023-05-26"),
                           _chunk("b", NEW, Path(__file__).read_text()[:400], "2025-11-15")),
    }
    for name, (a, b) in cases.items():
        scores = {"a": 1.0, "b": 0.5}
        assert drop_superseded(scores, {"a": a, "b": b}) == {}, name
        assert scores == {"a": 1.0, "b": 0.5}, name
