"""Legal references named in a question (`ECCN 3A981`, `5A001.j`, `Article 5`, `§ 744.11`,
`Supplement No. 4 to part 744`), and whether an indexed unit carries them."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("supplement", re.compile(r"\bSupp(?:lement|\.)?\s*(?:No\.?|number)?\s*(\d+)\s+to\s+(?:15\s+CFR\s+)?part\s+(\d{3})\b", re.I)),
    ("cfr", re.compile(r"(?:§+|\bsec(?:tion|\.)|\b15\s+CFR)\s*(\d{3}\.\d{1,3}[a-z]?)((?:\([a-zA-Z0-9]{1,4}\))*)", re.I)),
    ("article", re.compile(r"\bArt(?:icle|\.)?\s*(\d{1,3}[a-z]?)((?:\(\d{1,3}[a-z]?\))*)(?:\s*\(([a-z])\))?", re.I)),
    ("recital", re.compile(r"\bRecital\s*\(?(\d{1,3})\)?", re.I)),
    ("wassenaar", re.compile(r"\b(\d{1,2})\.\s?([A-E])\.\s?(\d{1,3})((?:\.\s?[a-z0-9]{1,2}(?![\w]))*)\.?(?![\w])")),
    ("control_code", re.compile(r"\bECCN\s*(\d[A-Za-z]\d{3})((?:\.[a-z0-9]{1,3})*)\b")),
    ("control_code", re.compile(r"\b(\d[A-Ea-e]\d{3})((?:\.[a-z0-9]{1,3})*)\b")),
    ("munitions", re.compile(r"\bML\s?(\d{1,2})\b")),
]


@dataclass(frozen=True)
class Reference:
    kind: str
    label: str  # normalised, comparable with normalise(section)
    display: str = ""  # as a reader writes it: "ECCN 9Z999", "Article 97", "§ 742.99"


def normalise(section: str) -> str:
    """Comparable form of a label: no `ECCN`/`§` prefix, no spaces, lower case."""
    text = section.strip().lower()
    text = re.sub(r"^eccn\s+", "", text)
    text = re.sub(r"^§+\s*", "§", text)
    text = text.replace("art. ", "article ")
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"(?<=\d) (?=\()", "", text)
    return text.rstrip(".")


def find_references(question: str) -> list[Reference]:
    found: list[Reference] = []
    taken: list[tuple[int, int]] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(question):
            span = match.span()
            if any(a < span[1] and span[0] < b for a, b in taken):
                continue
            label = _label(kind, match)
            if label:
                taken.append(span)
                shown = f"ECCN {label}" if kind == "control_code" else label
                ref = Reference(kind, normalise(label), shown)
                if all(r.label != ref.label for r in found):
                    found.append(ref)
    return found


def _label(kind: str, match: re.Match[str]) -> str | None:
    g = match.groups()
    if kind == "supplement":
        return f"Supplement No. {g[0]} to Part {g[1]}"
    if kind == "cfr":
        return f"§ {g[0]}{g[1] or ''}"
    if kind == "article":
        return f"Article {g[0]}{g[1] or ''}{f'({g[2]})' if g[2] else ''}"
    if kind == "recital":
        return f"Recital ({g[0]})"
    if kind == "wassenaar":
        return f"{g[0]}.{g[1]}.{g[2]}" + re.sub(r"\s+", "", g[3] or "")
    if kind == "control_code":
        return g[0][0] + g[0][1].upper() + g[0][2:] + (g[1] or "")
    if kind == "munitions":
        return f"ML{g[0]}"
    return None


def relation(unit: str, reference: Reference) -> int | None:
    """How a unit (its normalised label) stands to a reference: 0 it is the reference, 1 a
    sub-unit of it (Article 5(2) for Article 5), 2 the unit containing it (ECCN 5A001 for
    5A001.j); None: unrelated (Article 50 for Article 5)."""
    ref = reference.label
    if unit == ref:
        return 0
    if unit.startswith(ref) and unit[len(ref)] in "(.":
        return 1
    if ref.startswith(unit) and ref[len(unit)] in "(." and reference.kind != "article":
        return 2
    return None
