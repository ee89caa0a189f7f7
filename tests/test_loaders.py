"""Loaders on real files written in the test: PDF (fpdf2 → pypdf), HTML, text, and bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from fpdf import FPDF

from indexer.chunker import Chunker
from indexer.loaders import LoadError, load_document
from indexer.tokens import TokenCounter
from regqa.config import Settings

LIMITS = {"max_bytes": 10_000_000, "max_pdf_pages": 50}


def write_pdf(path: Path, pages: list[list[str]], password: str | None = None) -> Path:
    pdf = FPDF()
    pdf.set_font("Helvetica", size=11)
    for lines in pages:
        pdf.add_page()
        for line in lines:
            pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    if password:
        pdf.set_encryption(owner_password="owner", user_password=password)
    pdf.output(str(path))
    return path


@pytest.fixture(scope="module")
def chunker() -> Chunker:
    settings = Settings()
    return Chunker(TokenCounter(settings.model_path), settings.max_tokens, settings.max_context_tokens)


def test_pdf_keeps_pages_and_recognises_legal_headings(tmp_path: Path, chunker: Chunker) -> None:
    path = write_pdf(tmp_path / "mini-reg.pdf", [
        ["MINI REGULATION ON SURVEILLANCE EXPORTS", "Preliminary words of the publisher."],
        ["Article 5", "1. An authorisation shall be required for the export of listed items.",
         "2. The exporter shall notify the competent authority."],
        ["§ 742.7 Crime control and detection.",
         "(a) License requirements. A license is required for crime control items.",
         "(b) Licensing policy. Applications are considered case by case."],
        ["5A001 Telecommunications systems as follows:",
         "5. A. 1. j. Internet Protocol (IP) network communications surveillance systems."],
    ])
    doc = load_document(path, **LIMITS)
    assert doc.meta.id == "mini-reg"
    chunks = chunker.chunk(doc)
    by_section = {c.section: c for c in chunks}
    assert by_section["Article 5(1)"].page == 2
    assert "competent authority" in by_section["Article 5(2)"].text
    assert by_section["§ 742.7(a)"].page == 3
    assert by_section["§ 742.7(b)"].text.startswith("(b) Licensing policy")
    assert by_section["5A001"].page == 4
    assert by_section["5.A.1.j"].page == 4 and "surveillance systems" in by_section["5.A.1.j"].text
    assert all(c.page is not None for c in chunks)
    for chunk in chunks:
        assert doc.text[chunk.start : chunk.end] == chunk.text


def test_html_drops_chrome_and_keeps_headings(tmp_path: Path, chunker: Chunker) -> None:
    path = tmp_path / "guidance.html"
    path.write_text(
        "<html><head><title>Cyber-surveillance guidance</title><script>var x='secret tracking';</script>"
        "<style>p{color:red}</style></head><body><nav>Home | Menu</nav><header>Site header</header>"
        "<main><h1>Guidance</h1><h2>Article 5 — cyber-surveillance</h2>"
        "<p>Exporters shall exercise <b>due diligence</b>.</p><ul><li>Facial recognition</li></ul>"
        "</main><footer>Cookie banner</footer></body></html>",
        encoding="utf-8",
    )
    doc = load_document(path, **LIMITS)
    assert doc.meta.title == "Cyber-surveillance guidance"
    assert "secret tracking" not in doc.text and "Menu" not in doc.text and "Cookie" not in doc.text
    chunks = chunker.chunk(doc)
    article = [c for c in chunks if c.section == "Article 5"]
    assert article and "due diligence" in article[0].text and "Facial recognition" in article[0].text
    assert article[0].heading_path.endswith("Article 5 — cyber-surveillance")


def test_text_with_sidecar_metadata(tmp_path: Path, chunker: Chunker) -> None:
    path = tmp_path / "notice_2026.txt"
    path.write_text("Notice to exporters\n\nArticle 1\nScope of this notice.\n", encoding="utf-8")
    (tmp_path / "notice_2026.meta.yaml").write_text(
        "id: notice-2026\ncite_as: Notice 2026/1\ndoc_type: guidance\njurisdiction: UK\n"
        "source_url: https://example.gov/notice\nas_of: 2026-01-02\ncompleteness: full\n"
        "as_of_note: date of the Notice as published\n",
        encoding="utf-8",
    )
    doc = load_document(path, **LIMITS)
    assert (doc.meta.id, doc.meta.cite_as, doc.meta.jurisdiction) == ("notice-2026", "Notice 2026/1", "UK")
    assert doc.meta.as_of == "2026-01-02" and doc.meta.completeness_status == "full"
    assert doc.meta.as_of_note == "date of the Notice as published"
    assert [c.section for c in chunker.chunk(doc)] == ["Notice to exporters", "Article 1"]


def test_file_without_metadata_gets_sensible_defaults(tmp_path: Path) -> None:
    path = tmp_path / "My Export Note.md"
    path.write_text("# Export note\n\nSome text.\n", encoding="utf-8")
    doc = load_document(path, **LIMITS)
    assert doc.meta.id == "My-Export-Note"
    assert doc.meta.title == "Export note" and doc.meta.cite_as == "Export note"
    assert doc.meta.completeness_status == "unknown"


def _truncated_pdf(tmp_path: Path) -> Path:
    good = write_pdf(tmp_path / "whole.pdf", [["Article 1", "Text."]] * 3)
    data = good.read_bytes()
    path = tmp_path / "truncated.pdf"
    path.write_bytes(data[: len(data) // 3])
    return path


BAD_FILES = {
    "encrypted PDF": (lambda d: write_pdf(d / "locked.pdf", [["Article 1", "Secret."]], password="pw"),
                      "encrypted"),
    "truncated PDF": (_truncated_pdf, "PDF"),
    "corrupt PDF": (lambda d: _write(d / "corrupt.pdf", b"%PDF-1.7\n" + bytes(range(256)) * 40), "PDF"),
    "not a PDF": (lambda d: _write(d / "fake.pdf", b"GIF89a not a pdf at all"), "not a PDF"),
    "empty file": (lambda d: _write(d / "empty.md", b""), "empty"),
    "binary text": (lambda d: _write(d / "blob.txt", b"\x00\x01\x02binary\x00"), "binary"),
    "undecodable": (lambda d: _write(d / "latin1.txt", "Règlement d'exécution".encode("latin-1")), "UTF-8"),
    "unknown type": (lambda d: _write(d / "report.docx", b"PK\x03\x04zip"), "unsupported file type"),
    "broken front matter": (lambda d: _write(d / "broken.md", b"---\nid: [unclosed\ntitle: x\n---\n# T\n"),
                            "front matter"),
    "unclosed front matter": (lambda d: _write(d / "open.md", b"---\nid: x\n# Title\n"), "closing"),
    "invalid id": (lambda d: _write(d / "badid.md", b"---\nid: '../../etc/passwd'\n---\n# T\ntext\n"),
                   "invalid document metadata"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_unreadable_files_raise_a_clear_reason(tmp_path: Path, case: str) -> None:
    make, expected = BAD_FILES[case]
    path = make(tmp_path)
    with pytest.raises(LoadError) as caught:
        load_document(path, **LIMITS)
    assert expected.lower() in str(caught.value).lower()


def test_limits_are_enforced(tmp_path: Path) -> None:
    many = write_pdf(tmp_path / "long.pdf", [["Article 1", "Text."]] * 6)
    with pytest.raises(LoadError, match="more than the limit"):
        load_document(many, max_bytes=10_000_000, max_pdf_pages=5)
    with pytest.raises(LoadError, match="over the limit"):
        load_document(many, max_bytes=100, max_pdf_pages=50)
