"""Citable labels follow corpus/README.md's table."""

from __future__ import annotations

import pytest

from indexer.labels import heading_label, leading_markers

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
        ("(*1*) italic", ["*1*"]),
        ("(iv) roman", ["iv"]),
        ("Crime control (a) inside", []),
        ("(The parenthesis is prose)", []),
    ],
)
def test_leading_markers(paragraph: str, markers: list[str]) -> None:
    assert leading_markers(paragraph) == markers
