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
    # (b) opens with its (1) on the heading's line, and the amendment history belongs to the
    # section as a whole.
    assert _section(corpus, "15-cfr-part-742", "§ 742.7(b)(1)")[0].text.startswith("(b) *Licensing policy.* (1)")
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
    assert "1. An authorisation shall be required for the export of cyber-surveillance items" in chunks[0].text
    assert "Where an exporter is aware" not in chunks[0].text  # that is Article 5(2)
    assert "Source:" not in chunks[0].text  # provenance lines are not regulation text
    assert chunks[0].unit == "Article 5"


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


def test_an_inline_list_inside_a_paragraph_is_not_a_new_paragraph(corpus) -> None:  # noqa: ANN001
    """§ 740.17(b)(2)(i)(A)'s definition lists "(a) Wide Area Network (WAN); … (g) Trunked." and a Note's
    "(1) … (4)": read as paragraphs (a)-(g), everything after them up to § 740.17(c) was labelled
    "§ 740.17(g)(4)(G)", "§ 740.17(g)(3)" …; the ENC paragraphs keep their own designations."""
    chunks = corpus["15-cfr-part-740"][1]
    labels = {c.section for c in chunks}
    assert {"§ 740.17(b)(2)(i)(G)", "§ 740.17(b)(3)", "§ 740.17(b)(3)(iii)(B)", "§ 740.17(c)"} <= labels
    assert not any(s.startswith(("§ 740.17(g)(3)", "§ 740.17(g)(4)")) for s in labels)
    wan = next(c for c in chunks if "Wide Area Network (WAN)" in c.text)
    assert wan.section.startswith("§ 740.17(b)(2)(i)(A)")
    # A Note's own list under § 734.4(c)(1) is the note's text, not paragraphs (c)(2) and (c)(3).
    note = next(c for c in corpus["15-cfr-part-734"][1] if "‘bundled’ means software" in c.text)
    assert note.section == "§ 734.4(c)(1)"


def test_a_roman_i_followed_by_a_capital_is_a_numeral(corpus) -> None:  # noqa: ANN001
    """§ 734.9(h)(1)'s "(i) *“Direct product” …*" opens (A) and (B): a numeral under (h)(1), not a paragraph
    (i); the real § 734.9(i), "*“Supercomputer” FDP rule*", follows with its (1)."""
    labels = {c.section: c.text for c in corpus["15-cfr-part-734"][1]}
    assert "§ 734.9(h)(1)(i)(B)" in labels and "§ 734.9(h)(2)(ii)" in labels
    assert labels["§ 734.9(i)"].startswith("(i) *“Supercomputer” FDP rule.*")


def test_a_heading_line_that_opens_its_first_sub_paragraph(corpus) -> None:  # noqa: ANN001
    """`(a) *General prohibitions.* (1) In addition …`: the (i) after it is (a)(1)(i), not a
    top-level (i) (it was cited as `§ 744.9(i)(iii)` for what is § 744.9(a)(1)(iii))."""
    labels = {c.section for c in corpus["15-cfr-part-744"][1]}
    assert {"§ 744.9(a)(1)", "§ 744.9(a)(1)(iii)", "§ 744.9(a)(2)"} <= labels
    assert {"§ 740.11(a)(1)", "§ 740.11(d)(1)(iii)(A)"} <= {c.section for c in corpus["15-cfr-part-740"][1]}
    # No CFR section anywhere has a top-level (i), (v) or (x) that does not follow (h), (u), (w).
    follows = {"i": "h", "v": "u", "x": "w"}
    for doc, chunks in corpus.values():
        order: dict[str, list[str]] = {}
        for chunk in chunks:
            match = re.match(r"(§ \d+\.\d+)\(([a-z]{1,2})\)", chunk.section)
            if match and match.group(2) not in order.setdefault(match.group(1), []):
                order[match.group(1)].append(match.group(2))
        for section, letters in order.items():
            for before, letter in zip(["", *letters], letters):
                assert letter not in follows or before == follows[letter], (doc.meta.id, section, letters)


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
    """Every character of body text (not provenance, fences or headings) is inside some chunk;
    only Markdown syntax may stay outside: table pipes, list dashes, and the code cell of an
    Annex I entry row (the entry's heading already says it)."""
    for doc, chunks in corpus.values():
        covered = bytearray(len(doc.text))
        for c in chunks:
            covered[c.start : c.end] = b"\x01" * (c.end - c.start)
        heading_lines = {h.start for h in doc.headings}
        code = ""
        pos = doc.body_start
        for line in doc.text[doc.body_start :].split("\n"):
            start = pos
            pos += len(line) + 1
            if start in heading_lines:
                code = line.lstrip("#").strip()
                continue
            if not line.strip() or NON_TEXT_LINE.match(line):
                continue
            lost = "".join(ch if not covered[start + i] else " " for i, ch in enumerate(line))
            lost = re.sub(r"^\s*- ", "", lost)  # a list item's dash
            lost = lost.replace("|", " ")
            assert not lost.strip() or lost.strip() == code, f"{doc.meta.id}: lost {lost.strip()[:60]!r} of {line[:80]!r}"


def test_chunk_ids_are_stable_and_unique(corpus) -> None:  # noqa: ANN001
    ids = [c.chunk_id for _, chunks in corpus.values() for c in chunks]
    assert len(ids) == len(set(ids))
    again = _chunked.__wrapped__()  # chunk everything a second time from scratch
    assert [c.chunk_id for _, chunks in again.values() for c in chunks] == ids


# -- issue 18: the refreshed corpus's structures ----------------------------------------------

ANNEX_I = "eu-2021-821-annex-i-control-list"
EU_REG = "eu-2021-821-dual-use-regulation"


@pytest.mark.parametrize(
    ("section", "starts", "unit"),
    [
        ("5A001.j", "j. Internet Protocol (IP) network communications surveillance systems", "5A001.j"),
        ("5A001.f.1", "1. Interception equipment designed for the extraction of voice or data", "5A001.f"),
        ("4E001.c", 'c. "Technology" for the "development" of "intrusion software".', "4E001.c"),
        ("5A004.b", "b. Items, not specified in 4A005 or 5A004.a., designed to perform all of the following:",
         "5A004.b"),
        ("6A003.b.4", '4. Imaging cameras incorporating "focal plane arrays" having any of the following:',
         "6A003.b"),
        ("5A001", "Telecommunications systems, equipment, components and accessories as follows:", "5A001"),
    ],
)
def test_annex_i_sub_items_are_their_own_passages(corpus, section: str, starts: str, unit: str) -> None:  # noqa: ANN001
    doc, _ = corpus[ANNEX_I]
    chunks = _section(corpus, ANNEX_I, section)
    assert len(chunks) == 1, [c.text[:40] for c in chunks]
    chunk = chunks[0]
    assert chunk.text.startswith(starts) and doc.text[chunk.start : chunk.end] == chunk.text
    assert chunk.unit == unit
    entry = section.split(".")[0]
    # A fragment is never embedded without its entry's code and heading sentence.
    assert f"{entry} " in chunk.context and chunk.context.startswith("Regulation (EU) 2021/821, Annex I")


def test_annex_i_item_text_ends_where_the_next_item_starts(corpus) -> None:  # noqa: ANN001
    (j,) = _section(corpus, ANNEX_I, "5A001.j")
    assert j.text.endswith("having all of the following:")
    (note,) = _section(corpus, ANNEX_I, "5A001.j.2.b")  # the Note after j.2.b stays with it
    assert note.text.startswith("b. Mapping of the relational network")
    assert note.text.endswith("*c.* *Quality of Experience (QoE).*")


def test_annex_i_chunks_quote_prose_only(corpus) -> None:  # noqa: ANN001
    """No chunk anywhere is a table header; Annex I chunks never contain the pipes or the code cell."""
    for _, chunks in corpus.values():
        assert not [c for c in chunks if not re.sub(r"[|\s:-]", "", c.text)]
    doc, chunks = corpus[ANNEX_I]
    rows = 0
    for chunk in chunks:
        line_start = doc.text.rfind("\n", 0, chunk.start) + 1
        row = re.match(r"\|  \| (\d[A-E]\d{3}) \| ", doc.text[line_start : line_start + 14])
        if row:  # a passage cut from an entry's table row: words of the text cell only
            rows += 1
            assert "|" not in chunk.text and chunk.start >= line_start + row.end(), chunk.section
    assert rows > 3000


def test_annex_i_labels_agree_with_the_notes_and_with_wassenaar(corpus) -> None:  # noqa: ANN001
    """Two independent checks of the inline parse: every sub-item an entry's own text names
    (`*5A001.b.3.b. does not control …*`) is a label, and every Wassenaar entry of Categories 4
    and 5 Part 1 that has its own heading (`#### 5.A.1.j.`) has its EU label (`5A001.j`)."""
    doc, chunks = corpus[ANNEX_I]
    labels = {c.section for c in chunks}
    named = missing = 0
    for row in re.finditer(r"^\|  \| (\d[A-E]\d{3}) \| (.*) \|$", doc.text, re.M):
        code, cell = row.groups()
        for mention in re.finditer(re.escape(code) + r"((?:\.(?:[a-z]|\d{1,2})(?![a-z0-9]))+)", cell):
            named += 1
            missing += f"{code}.{mention.group(1).strip('.')}" not in labels
    assert named > 600 and missing / named < 0.01, (named, missing)
    wassenaar = corpus["wassenaar-2025-dual-use-list-cat4-cat5p1"][0].text
    checked = 0
    for match in re.finditer(r"^#{3,4} (\d)\.([A-E])\.(\d+)\.((?:[a-z0-9]+\.)*)\s*\n+```text\n(.*)", wassenaar, re.M):
        category, group, number, sub, first_line = match.groups()
        if "Not used" in first_line:
            continue
        label = f"{category}{group}{int(number):03d}" + (f".{sub.rstrip('.')}" if sub else "")
        assert label in labels, label
        checked += 1
    assert checked >= 20


def test_eu_regulation_paragraphs_points_and_definitions(corpus) -> None:  # noqa: ANN001
    doc, chunks = corpus[EU_REG]
    (definition,) = _section(corpus, EU_REG, "Article 2(20)")
    assert definition.text.startswith("(20) ‘cyber-surveillance items’ means dual-use items specially designed")
    assert (definition.unit, definition.unit_title) == ("Article 2(20)", "cyber-surveillance items")
    (point,) = _section(corpus, EU_REG, "Article 4(1)(b)(ii)")
    assert point.text.startswith("(ii) use of production, test or analytical equipment") and point.unit == "Article 4"
    assert _section(corpus, EU_REG, "Article 4(1)(b)")[0].text.startswith("(b) for a military end-use")
    assert _section(corpus, EU_REG, "Article 5(2)")[0].text.startswith("2. Where an exporter is aware")
    assert _section(corpus, EU_REG, "Article 9(1)")[0].text.startswith("1. A Member State may prohibit")
    # Words after a list continue the numbered paragraph or the definition, not the last point.
    assert any(c.text.startswith("Authorisations issued or established") for c in _section(corpus, EU_REG, "Article 12(1)"))
    assert any(c.text.startswith("For the purposes of this Regulation, the sole provision")
               for c in _section(corpus, EU_REG, "Article 2(7)"))
    for chunk in chunks:
        if chunk.section.startswith("Article"):
            assert not chunk.text.startswith("- "), chunk.section  # a list dash is not a quote


def test_annex_ii_authorisations_and_annex_i_definitions(corpus) -> None:  # noqa: ANN001
    for n in range(1, 9):
        assert _section(corpus, EU_REG, f"EU00{n}"), f"EU00{n}"
    eu001 = " ".join(c.text for c in _section(corpus, EU_REG, "EU001"))
    assert "Australia" in eu001 and "United States" in eu001 and "UNION GENERAL EXPORT AUTHORISATION No EU001" in eu001
    for doc_id in (EU_REG, ANNEX_I):
        (first, *rest) = _section(corpus, doc_id, 'Definition of "intrusion software"')
        assert first.text.startswith('"Intrusion software" (4 5) means "software" specially designed')
        assert first.unit_title == "Intrusion software"
        assert all("Definition of" not in c.text for c in rest)
    wassenaar = _section(corpus, "wassenaar-2025-dual-use-list-cat4-cat5p1", 'Definition of "intrusion software"')
    assert wassenaar  # the same label in all three documents
    definitions = {c.section for c in corpus[EU_REG][1] if c.section.startswith("Definition of")}
    assert len(definitions) > 150
    # Two definitions of one word stay apart by their qualifier.
    assert {'Definition of "bias" (accelerometer)', 'Definition of "bias" (gyro)'} <= definitions


def test_part_772_definitions_are_units_of_their_own(corpus) -> None:  # noqa: ANN001
    doc, chunks = corpus["15-cfr-part-772"]
    assert {c.section for c in chunks} == {"§ 772.1"}  # never § 772.1(3)(i) from inside a definition
    intrusion = [c for c in chunks if c.unit == "§ 772.1 “Intrusion software”"]
    assert intrusion and intrusion[0].text.startswith("*Intrusion software.* (5P2) “Software” specially designed")
    assert intrusion[0].unit_title == "Intrusion software"
    assert intrusion[0].heading_path.endswith("› “Intrusion software”")
    assert any("Technical Note 2 to “Intrusion Software” Definition" in c.text for c in intrusion)
    units = [c.unit for c in chunks]
    runs = [u for i, u in enumerate(units) if (i == 0 or units[i - 1] != u) and u != "§ 772.1"]
    assert len(runs) == len(set(runs)), "a definition's chunks are consecutive and its key unique"
    assert len(set(units)) > 330
    assert "§ 772.1 “Bias (gyro)”" in units and "§ 772.1 “Bias (accelerometer)”" in units


def test_uk_order_and_ecra_labels(corpus) -> None:  # noqa: ANN001
    uk = _section(corpus, "uk-export-control-order-2008", "Article 4(1)")
    assert uk[0].text.startswith("(1) Subject to articles 13, 14, 15, 16, 17, 18 and 26, no person shall")
    assert uk[0].cite_as != _section(corpus, EU_REG, "Article 4(1)")[0].cite_as  # each names its instrument
    assert uk[0].unit_title.startswith("Movement of UK controlled dual-use goods")
    assert any(c.text.startswith("if paragraph (2) or (3) applies") for c in uk)
    (f,) = _section(corpus, "us-50-usc-ecra-selected", "50 U.S.C. § 4812(a)(2)(F)")
    assert f.text == "(F) foreign military, security, or intelligence services."
    assert (f.unit, f.unit_title) == ("50 U.S.C. § 4812", "Authority of the President")
    assert _section(corpus, "us-50-usc-ecra-selected", "50 U.S.C. § 4811(2)(A)(v)")
    # After the source credit come notes: they belong to the section, not to its last paragraph.
    notes = _section(corpus, "us-50-usc-ecra-selected", "50 U.S.C. § 4812")
    assert notes and notes[0].text.startswith("*([Pub. L. 115–232")


def test_cfr_units_and_titles(corpus) -> None:  # noqa: ANN001
    (chunk, *_) = _section(corpus, "15-cfr-part-742", "§ 742.7(a)(1)")
    assert (chunk.unit, chunk.unit_title) == ("§ 742.7", "Crime control and detection")
    (eccn,) = _section(corpus, "15-cfr-part-774-supp-1-ccl", "ECCN 3A981")
    assert eccn.unit_title.startswith("Polygraphs (except biomedical recorders")


WASSENAAR = "wassenaar-2025-dual-use-list-cat4-cat5p1"


def test_the_wassenaar_general_notes_are_units_of_their_own(corpus) -> None:  # noqa: ANN001
    """Title lines inside the laid-out extract, not headings; as in EU Annex I, each note is cited
    by its own name and its paragraphs are not mixed with the other notes."""
    _, chunks = corpus[WASSENAAR]
    by_section: dict[str, list[Chunk]] = {}
    for chunk in chunks:
        by_section.setdefault(chunk.section, []).append(chunk)
    software = by_section['GENERAL SOFTWARE NOTE']
    assert software[0].text.startswith("GENERAL SOFTWARE NOTE")
    assert any('The Lists do not control "software"' in c.text for c in software)
    assert not any("GENERAL TECHNOLOGY NOTE" in c.text for c in software)
    assert any("remains under control" in c.text for c in by_section["GENERAL TECHNOLOGY NOTE"])
    assert 'GENERAL "INFORMATION SECURITY" NOTE' in by_section
    # The List's own notes before them keep the extract's label.
    assert any("Note 1" in c.text for c in by_section["Dual-Use List"])


def test_no_passage_opens_mid_sentence_with_an_exclusion(corpus) -> None:  # noqa: ANN001
    """A long note split after its code ("*Note 3:* *6A003.b.4.b.*" | "does not control imaging
    cameras …") leaves a passage that reads as a rule of its own, the opposite of the entry's."""
    opening = re.compile(r"^\W*do(?:es)? not (?:control|apply)\b")
    split = [(doc_id, c.section) for doc_id, (_, chunks) in corpus.items() for c in chunks if opening.match(c.text)]
    assert split == []
