"""Citable labels follow corpus/README.md's table."""

from __future__ import annotations

import pytest

from indexer.labels import (
    ARTICLE_SCHEME,
    CFR_SCHEME,
    USC_SCHEME,
    annex_definition_term,
    cfr_definition_term,
    choose_level,
    definition_label,
    format_markers,
    heading_label,
    inline_items,
    leading_markers,
)

README_TABLE = [
    ("§ 742.7 Crime control and detection.", "§ 742.7"),
    ("ECCN 3A981", "ECCN 3A981"),
    ("Article 5(1) (quoted)", "Article 5(1)"),
    ("Recital (4) (beginning only)", "Recital (4)"),
    ("5A001.j", "5A001.j"),
    ("4.A.5.", "4.A.5"),
    ("HL10246 — Hikvision: China (answered 23 November 2020)", "HL10246"),
    ("Commitment 3", "Commitment 3"),
]


@pytest.mark.parametrize(("heading", "label"), README_TABLE)
def test_readme_examples(heading: str, label: str) -> None:
    assert heading_label(heading).text == label


@pytest.mark.parametrize(
    ("heading", "label"),
    [
        ("Article 2(20) — definition of 'cyber-surveillance items' (quoted)", "Article 2(20)"),
        ("Art. 5", "Article 5"),
        ("Supplement No. 4 to Part 744—Entity List", "Supplement No. 4 to Part 744"),
        ("ANNEX I", "Annex I"),
        ("5.A.1.j.", "5.A.1.j"),
        ("5. A. 1.  j.  Internet Protocol (IP) network communications surveillance", "5.A.1.j"),
        ("Statement — introduction", "Statement"),
        ("Definition of \"intrusion software\" (Definitions of Terms)", 'Definition of "intrusion software"'),
        ("Title and enacting formula", "Title and enacting formula"),
    ],
)
def test_other_headings(heading: str, label: str) -> None:
    assert heading_label(heading).text == label


def test_article_50_is_not_article_5() -> None:
    assert heading_label("Article 50").text == "Article 50"


@pytest.mark.parametrize(
    ("paragraph", "markers"),
    [
        ("(a) *License requirements.* In support", ["a"]),
        ("(b)(1) Text", ["b", "1"]),
        # The first sub-paragraph on the heading's line (§ 744.9(a)(1), § 740.11(a)(1), § 745.1(b)(1))
        ("(a) *General prohibitions.* (1) In addition", ["a", "1"]),
        ("(d) *Entries*—(1) Text", ["d", "1"]),
        ("(a) *International safeguards* - (1) *Scope.* The IAEA", ["a", "1"]),
        ("(c) —(1) Text", ["c", "1"]),
        ("(b)  (1) Text", ["b", "1"]),
        ("(a) *Scope.* The term (1) is prose", ["a"]),
        ("(*1*) italic", ["*1*"]),
        ("(iv) roman", ["iv"]),
        ("Crime control (a) inside", []),
        ("(The parenthesis is prose)", []),
    ],
)
def test_leading_markers(paragraph: str, markers: list[str]) -> None:
    assert leading_markers(paragraph) == markers


# -- issue 18: the refreshed corpus's headings and structures ---------------------------------


@pytest.mark.parametrize(
    ("heading", "label", "title"),
    [
        ("50 U.S.C. § 4811 — Statement of policy", "50 U.S.C. § 4811", "Statement of policy"),
        ("50 USC 4812", "50 U.S.C. § 4812", ""),
        ("EU001 — Annex II Section A: EXPORTS TO AUSTRALIA", "EU001", "Annex II Section A: EXPORTS TO AUSTRALIA"),
        ("Article 4 — Movement of UK controlled dual-use goods, etc. to certain destinations", "Article 4",
         "Movement of UK controlled dual-use goods, etc. to certain destinations"),
        ("§ 742.7 Crime control and detection.", "§ 742.7", "Crime control and detection"),
        ("Article 5(1) (quoted)", "Article 5(1)", ""),
        ("5A001", "5A001", ""),
    ],
)
def test_labels_and_titles_of_new_headings(heading: str, label: str, title: str) -> None:
    found = heading_label(heading)
    assert (found.text, found.title) == (label, title)


@pytest.mark.parametrize(
    ("markers", "scheme", "labels"),
    [
        # U.S. Code: (a) (1) (A) (i) (I); (i) under (A) is a clause, (I) under (i) a subclause.
        (["a", "1", "A", "i", "I", "II", "ii", "B", "2"], USC_SCHEME,
         ["(a)", "(a)(1)", "(a)(1)(A)", "(a)(1)(A)(i)", "(a)(1)(A)(i)(I)", "(a)(1)(A)(i)(II)", "(a)(1)(A)(ii)",
          "(a)(1)(B)", "(a)(2)"]),
        # ... but (H) then (I) continues the capitals.
        (["1", "A", "H", "I"], USC_SCHEME, ["(1)", "(1)(A)", "(1)(H)", "(1)(I)"]),
        # Articles: (1) (a) (i); (h) then (i) is a point, (a) then (i) a sub-point.
        (["1", "a", "i", "ii", "b", "2"], ARTICLE_SCHEME, ["(1)", "(1)(a)", "(1)(a)(i)", "(1)(a)(ii)", "(1)(b)", "(2)"]),
        (["1", "h", "i", "j"], ARTICLE_SCHEME, ["(1)", "(1)(h)", "(1)(i)", "(1)(j)"]),
        # CFR: (a) (1) (i) (A) as before.
        (["a", "1", "i", "A", "ii", "2", "b"], CFR_SCHEME,
         ["(a)", "(a)(1)", "(a)(1)(i)", "(a)(1)(i)(A)", "(a)(1)(ii)", "(a)(2)", "(b)"]),
    ],
)
def test_marker_schemes(markers: list[str], scheme: tuple[str, ...], labels: list[str]) -> None:
    stack: list[tuple[int, str]] = []
    got = []
    for i, marker in enumerate(markers):
        following = markers[i + 1] if i + 1 < len(markers) else None
        level = choose_level(marker, stack, following, -1, scheme)
        assert level >= 0, marker
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, marker))
        got.append(format_markers([m for _, m in stack]))
    assert got == labels


ENTRY = (
    "Telecommunications systems as follows: a. Equipment having any of the following: 1. Specially "
    "designed to withstand pulses; 2. Specially hardened; or 3. Specially designed to operate below "
    "218 K; *Note 1:* *5A001.a.2. and 5A001.a.3. control only electronic equipment:* *a.* *radios;* "
    "*b.* *phones.* b. Systems having all of the following: 1. Being underwater systems having any of "
    "the following: a. An acoustic carrier; b. Using lasers; 2. Being radio equipment in 5A001.b.1.; "
    "*Note:* *5A001.b.2. does not control radio equipment for use with any of the following:* a. "
    "*Civil cellular systems;* *or* b. *Fixed earth stations.* c. Optical fibres of more than 500 m "
    "in length; h. Not used; i. Interception equipment; and j. IP network surveillance systems."
)


def test_inline_items_of_an_entry() -> None:
    items = inline_items(ENTRY, "5A001")
    assert [i.label("5A001") for i in items] == [
        "5A001.a", "5A001.a.1", "5A001.a.2", "5A001.a.3", "5A001.b", "5A001.b.1", "5A001.b.1.a",
        "5A001.b.1.b", "5A001.b.2", "5A001.c", "5A001.h", "5A001.i", "5A001.j"]
    starts = {i.label("5A001"): i.start for i in items}
    assert ENTRY[starts["5A001.b.2"] : starts["5A001.c"]].startswith("2. Being radio equipment")
    # The Note's own list (italic, or bare markers before italic text) is not the entry's.
    assert "*Civil cellular systems;*" in ENTRY[starts["5A001.b.2"] : starts["5A001.c"]]
    assert ENTRY[: starts["5A001.a"]] == "Telecommunications systems as follows: "


def test_a_note_naming_an_item_decides_between_two_readings() -> None:
    """`c.` after `b.1.b` continues either list; the Note naming `5A001.c.1` says which."""
    text = ("Items: a. A; b. B having: 1. One having: a. X; b. Y; c. Z having: 1. Q; "
            "*Note:* *5A001.c.1. does not control toys.* 2. R.")
    labels = [i.label("5A001") for i in inline_items(text, "5A001")]
    assert labels == ["5A001.a", "5A001.b", "5A001.b.1", "5A001.b.1.a", "5A001.b.1.b", "5A001.c", "5A001.c.1",
                      "5A001.c.2"]
    without_note = text.replace("*Note:* *5A001.c.1. does not control toys.* ", "")
    deeper = [i.label("5A001") for i in inline_items(without_note, "5A001")]
    assert deeper[5] == "5A001.b.1.c"  # with nothing to say otherwise, the nearest list continues


@pytest.mark.parametrize(
    ("paragraph", "term"),
    [
        ("*Intrusion software.* (5P2) “Software” specially designed", "Intrusion software"),
        ("*Applicable advanced logic integrated circuits* are logic integrated circuits", "Applicable advanced logic integrated circuits"),
        ("“*Authentication*”. (Cat 5P2) Verifying the identity", "Authentication"),
        ("“Bias”. (gyro) (Cat 7) The average over a specified time", "Bias"),
        ("*“Data signaling rate.”* (Cat 5) means the rate", "Data signaling rate"),
        ("“*Unmanned aerial vehicle” (“UAV”).* (Cat 9) Any “aircraft”", "Unmanned aerial vehicle"),
        ("*Technology.**Technology* means:", "Technology"),
        ("*Note 1 to “Intrusion Software” Definition:*", None),
        ("*'Monitoring tools': “software” or hardware devices", None),
        ("*2. “Cryptography” includes decryption.*", None),
        ("“Circuit element”: a single active or passive functional part", None),
        ("The following are definitions of terms", None),
    ],
)
def test_cfr_definition_headwords(paragraph: str, term: str | None) -> None:
    found = cfr_definition_term(paragraph)
    assert (found[0] if found else None) == term


@pytest.mark.parametrize(
    ("paragraph", "label"),
    [
        ('"Intrusion software" (4 5) means "software" specially designed', 'Definition of "intrusion software"'),
        ('"Bias" (gyro) (7) means the average', 'Definition of "bias" (gyro)'),
        ('"Monolithic Microwave Integrated Circuit" ("MMIC") (3 5) means', 'Definition of "monolithic microwave integrated circuit"'),
        ('"Source code" (or source language) (6 7 9) is', 'Definition of "source code"'),
        ('"Spread spectrum" radar (6) - see "Radar spread spectrum".', 'Definition of "spread spectrum radar"'),
        ('"Development" (GTN NTN All) is related to all phases', 'Definition of "development"'),
    ],
)
def test_annex_definition_labels(paragraph: str, label: str) -> None:
    term, qualifier = annex_definition_term(paragraph)
    assert definition_label(term, qualifier) == label
