"""The notes of a control-list entry that say what it does not control.

"Note 1: 4E001.a. and 4E001.c. do not control 'vulnerability disclosure'", "Note: 5A001.j. does
not control systems … for Network Quality of Service (QoS)": part of what the entry means, and
often what decides whether an item is caught. They stand at the entry's end or inside a sibling
paragraph, so neither the entry's first paragraphs nor its label find them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from indexer.records import Chunk

# The words of an exclusion, wherever they stand: a cheap first test before the code patterns.
EXCLUDES = re.compile(r"\bdo(?:es)? not (?:control|apply)\b")
# After a code: the rest of its note up to "does not control/apply", within one clause.
_AFTER_CODE = r"(?![\w]|\.[a-z0-9])(?:(?!\.\s+[A-Z*])[^;:\n]){0,80}?\bdo(?:es)? not (?:control|apply)\b"


def _ancestors(code: str) -> list[str]:
    """`6A003.b.4.b` and the entries above it, most specific first."""
    parts = code.removeprefix("ECCN ").split(".")
    return [".".join(parts[:i]) for i in range(len(parts), 0, -1)]


def exclusion_pattern(code: str) -> re.Pattern[str]:
    """A note naming `code` or an entry above it, then "does not control/apply" (`4E001.c`:
    "4E001.a. and 4E001.c. do not control …", "4E001 does not control …"). A note about a
    sub-item below `code` does not exclude the whole of it."""
    names = "|".join(re.escape(a) for a in _ancestors(code))
    return re.compile(rf"(?<![\w.])(?:{names})\.?" + _AFTER_CODE)


def exclusion_notes(chunks: Iterable[Chunk], code: str) -> list[tuple[Chunk, re.Pattern[str]]]:
    """The chunks of `code`'s entry (same top-level code) whose notes exclude items from it, the
    notes on `code` itself first, then those on the entries above it; each with the pattern
    that finds its note (for quoting it)."""
    ancestors = _ancestors(code)
    by_level = [re.compile(rf"(?<![\w.]){re.escape(a)}\.?" + _AFTER_CODE) for a in ancestors]
    top = ancestors[-1]
    found: list[tuple[int, Chunk]] = []
    for chunk in chunks:
        if (chunk.unit or chunk.section).removeprefix("ECCN ").split(".")[0] != top:
            continue
        level = next((i for i, pattern in enumerate(by_level) if pattern.search(chunk.text)), None)
        if level is not None:
            found.append((level, chunk))
    focus = exclusion_pattern(code)
    return [(chunk, focus) for _, chunk in sorted(found, key=lambda f: f[0])]
