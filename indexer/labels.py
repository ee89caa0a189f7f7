"""Citable labels: which legal reference a heading or a paragraph marker stands for.

The rules follow `corpus/README.md`: the label is the legal reference at the start of a
heading (`§ 742.7`, `ECCN 3A981`, `Article 5(1)`, `5A001.j`, `4.A.5`); paragraph markers
inside a unit extend it (`§ 742.7(a)(1)`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ROMAN = re.compile(r"^(?=[ivxlc]+$)c{0,3}(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$")

# (kind, pattern, formatter). Order matters: the first match wins.
_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("cfr", re.compile(r"^§+\s*(?P<n>\d+\.\d+[a-z]?)")),
    ("eccn", re.compile(r"^ECCN\s+(?P<n>\d[A-E]\d{3}(?:\.[A-Za-z0-9]+)*)", re.I)),
    (
        "article",
        re.compile(r"^(?:Article|Art\.)\s+(?P<n>\d+[a-z]?)(?P<p>(?:\s?\(\d+[a-z]?\))*(?:\s?\([a-z]\))*)", re.I),
    ),
    ("recital", re.compile(r"^Recital\s+\(?(?P<n>\d+)\)?", re.I)),
    ("supplement", re.compile(r"^Supplement\s+No\.?\s*(?P<n>\d+)\s+to\s+Part\s+(?P<p>\d+)", re.I)),
    ("annex", re.compile(r"^Annex\s+(?P<n>[IVXLC]+)\b(?!\w)", re.I)),
    ("control_code", re.compile(r"^(?P<n>\d[A-E]\d{3}(?:\.[A-Za-z0-9]+)*)(?=\.?(?:\s|$))")),
    (
        "wassenaar",
        re.compile(r"^(?P<n>\d{1,2}\.\s?[A-E]\.\s?\d{1,3}\.(?:\s{0,3}[a-z0-9]{1,2}\.)*)(?=\s|$)"),
    ),
    ("munitions", re.compile(r"^(?P<n>ML\d{1,2})\.(?=\s|$)")),
    ("commitment", re.compile(r"^Commitment\s+(?P<n>\d+)", re.I)),
    ("question", re.compile(r"^(?P<n>HL\d{3,}|UIN\s?\d+)\b")),
]


@dataclass(frozen=True)
class Label:
    kind: str
    text: str


def heading_label(heading: str) -> Label:
    """The citable label of a heading; headings without a reference keep their own words."""
    text = heading.strip().lstrip("#").strip()
    for kind, pattern in _RULES:
        match = pattern.match(text)
        if not match:
            continue
        number = match.group("n")
        if kind == "cfr":
            return Label(kind, f"§ {number}")
        if kind == "eccn":
            return Label(kind, f"ECCN {number.upper()[:5]}{number[5:]}")
        if kind == "article":
            paragraphs = re.sub(r"\s+", "", match.group("p") or "")
            return Label(kind, f"Article {number}{paragraphs}")
        if kind == "recital":
            return Label(kind, f"Recital ({number})")
        if kind == "supplement":
            return Label(kind, f"Supplement No. {number} to Part {match.group('p')}")
        if kind == "annex":
            return Label(kind, f"Annex {number.upper()}")
        if kind == "control_code":
            return Label(kind, number)
        if kind == "wassenaar":
            return Label(kind, re.sub(r"\s+", "", number).rstrip("."))
        if kind == "commitment":
            return Label(kind, f"Commitment {number}")
        return Label(kind, number)
    head = re.split(r"\s+—\s+", text, maxsplit=1)[0]
    head = re.sub(r"\s*\([^()]*\)\s*$", "", head).strip().rstrip(".").strip()
    return Label("heading", head or text)


# --- paragraph markers inside a unit -------------------------------------------------------

_MARKER = re.compile(r"\((\*?)([a-z]{1,5}|[A-Z]|\d{1,3})(\*?)\)")
_LEADING_MARKERS = re.compile(r"^\s*((?:\(\*?(?:[a-z]{1,5}|[A-Z]|\d{1,3})\*?\)){1,4})(?=\s|$)")
# CFR paragraph levels: (a) (1) (i) (A) (*1*) (*i*)
LEVEL_LOWER, LEVEL_NUMBER, LEVEL_ROMAN, LEVEL_UPPER, LEVEL_ITALIC_NUMBER, LEVEL_ITALIC_ROMAN = range(6)


def is_roman(token: str) -> bool:
    return bool(token) and bool(_ROMAN.match(token))


def leading_markers(paragraph: str) -> list[str]:
    """The paragraph markers a CFR paragraph starts with, e.g. `(b)(1) Text` -> ['b', '1']."""
    match = _LEADING_MARKERS.match(paragraph)
    if not match:
        return []
    return [m.group(0)[1:-1] for m in _MARKER.finditer(match.group(1))]


def marker_levels(marker: str) -> list[int]:
    """Levels a marker may stand at, most likely first (`i` may be a letter or a numeral)."""
    italic = marker.startswith("*")
    core = marker.strip("*")
    if core.isdigit():
        return [LEVEL_ITALIC_NUMBER] if italic else [LEVEL_NUMBER]
    if len(core) == 1 and core.isupper():
        return [LEVEL_UPPER]
    if italic:
        return [LEVEL_ITALIC_ROMAN] if is_roman(core) else []
    if len(core) == 1 and is_roman(core):
        return [LEVEL_LOWER, LEVEL_ROMAN]
    if is_roman(core):
        return [LEVEL_ROMAN]
    if len(core) == 1 or (len(core) == 2 and core[0] == core[1]):
        return [LEVEL_LOWER]  # (aa) follows (z) in long CFR lists
    return []


def format_markers(markers: list[str]) -> str:
    return "".join(f"({m.strip('*')})" for m in markers)
