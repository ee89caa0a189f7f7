"""Headings recognised in plain text and PDF text, where no markup says what a heading is."""

from __future__ import annotations

import re

from indexer.labels import heading_label
from indexer.records import Heading

_TITLE_START = r"[\"“'‘A-Z(]"
_LINE_HEADINGS: list[tuple[re.Pattern[str], int]] = [
    (re.compile(r"^(?:ANNEX|Annex)\s+[IVXLC]+\b.{0,80}$"), 2),
    (re.compile(r"^Supplement No\.\s*\d+ to [Pp]art \d+.{0,120}$"), 2),
    (re.compile(r"^(?:PART|Part) \d{3}\s*[—–-].{0,120}$"), 2),
    (re.compile(r"^Article\s+\d+[a-z]?\s*$"), 3),
    (re.compile(rf"^Article\s+\d+[a-z]?\s*[—–.:-]?\s*{_TITLE_START}.{{0,100}}$"), 3),
    (re.compile(rf"^§\s*\d+\.\d+[a-z]?\s+{_TITLE_START}"), 3),
    (re.compile(r"^ECCN\s+\d[A-E]\d{3}\b"), 3),
    (re.compile(rf"^\d[A-E]\d{{3}}(?:\.[a-z0-9]+)*\.?\s+{_TITLE_START}"), 3),
    (re.compile(rf"^ML\d{{1,2}}\.\s+{_TITLE_START}"), 3),
    (re.compile(rf"^\d{{1,2}}\.\s?[A-E]\.\s?\d{{1,3}}\.(?:\s{{0,3}}[a-z0-9]{{1,2}}\.)*\s+{_TITLE_START}"), 3),
]


# A line in capitals, such as "DEFINITIONS OF TERMS USED IN THESE LISTS" (PDF only).
_CAPS_HEADING = re.compile(r"^[A-Z][A-Z0-9 ,;:'\"“”()/&–—-]{9,100}$")


def detect_headings(
    text: str, start: int = 0, *, skip: frozenset[int] = frozenset(),
    extra: dict[int, int] | None = None, caps: bool = False,
) -> list[Heading]:
    """Lines that open a citable unit; the line itself stays part of the unit's text.

    `skip`: line offsets that are page furniture; `extra`: offset -> level of headings the
    caller already knows (e.g. the first occurrence of a running header); `caps`: treat lines
    in capitals as section headings.
    """
    headings: list[Heading] = []
    extra = extra or {}
    pos = start
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end == -1 else end
        line = text[pos:end].strip()
        if pos in extra and line:
            headings.append(Heading(extra[pos], line[:160], pos, end + 1))
        elif line and pos not in skip:
            for pattern, level in _LINE_HEADINGS:
                if pattern.match(line):
                    headings.append(Heading(_level(line, level), line[:160], pos, pos))
                    break
            else:
                if caps and _CAPS_HEADING.match(line) and sum(ch.isalpha() for ch in line) >= 8 \
                        and " " in line:
                    headings.append(Heading(2, line[:160], pos, end + 1))
        pos = end + 1
    return headings


def _level(line: str, base: int) -> int:
    """Sub-entries (5A001.j, 5.A.1.j) sit below their entry so the heading path nests."""
    label = heading_label(line)
    if label.kind == "control_code":
        return base + label.text.count(".")
    if label.kind == "wassenaar":
        return base + max(0, label.text.count(".") - 2)
    return base
