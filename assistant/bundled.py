"""A named unit that is not in the index: missing from a partial copy, or not existing at all?

Most bundled documents are partial (their `completeness` says so): selected EAR sections, three
ECRA sections, part of the CCL. `§ 742.13` is absent because part 742 is bundled in part, not
because it does not exist; `§ 742.7(z)` or `Article 99` of a regulation whose Articles 1-32 are
all present is a false premise. The rule, from what the index itself holds: a top-level unit
whose number falls *between* two bundled units of a partial document (a gap in the selection)
is "not bundled"; one beyond the last, or a missing sub-item of a bundled unit, is a false
premise. A supplement that no document carries is not bundled.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.references import Reference, names_instrument, normalise
from indexer.reader import Snapshot
from indexer.records import Chunk

# Top-level designations (normalised): a prefix shared by siblings and an ordinal within it.
_TOP = {
    "cfr": re.compile(r"^(§\d+\.)(\d+)([a-z]?)"),
    "article": re.compile(r"^(article )(\d+)([a-z]?)"),
    "control_code": re.compile(r"^(\d[a-z])(\d{3})()"),
    "wassenaar": re.compile(r"^(\d+\.[a-e]\.)(\d+)()"),
    "usc": re.compile(r"^(\d+ u\.s\.c\. §)(\d+)([a-z]?)"),
}


@dataclass(frozen=True)
class NotBundled:
    reference: Reference
    where: str  # the instrument, as cited ("15 CFR Part 742"), or the part that is not bundled
    url: str  # the official source to read it in ("" when no bundled document names one)


def _top(kind: str, label: str) -> tuple[str, float] | None:
    pattern = _TOP.get(kind)
    match = pattern.match(label) if pattern else None
    if match is None:
        return None
    letter = match.group(3)
    return match.group(1), int(match.group(2)) + (0.5 if letter else 0.0)  # Article 4A sits after 4


def not_bundled(snapshot: Snapshot, references: list[Reference]) -> list[NotBundled]:
    """The named units that a partial bundled document leaves out (see module docstring)."""
    found: list[NotBundled] = []
    for ref in references:
        if ref.kind == "supplement":
            part = ref.label.rsplit(" ", 1)[-1]
            found.append(NotBundled(ref, f"15 CFR Part {part}", _source_of(snapshot, f"§{part}.")))
            continue
        wanted = _top(ref.kind, ref.label)
        if wanted is None:
            continue
        for chunks in snapshot.by_doc.values():
            first = chunks[0]
            if not names_instrument(ref, first.cite_as):
                continue
            numbers = {top[1] for c in chunks if (top := _top(ref.kind, normalise(c.section))) and top[0] == wanted[0]}
            if not numbers or wanted[1] in numbers:
                continue
            if _partial(first) and min(numbers) < wanted[1] < max(numbers):
                found.append(NotBundled(ref, first.cite_as, first.source_url))
                break
    return found


def _partial(chunk: Chunk) -> bool:
    return chunk.completeness.strip().lower().startswith("partial")


def _source_of(snapshot: Snapshot, prefix: str) -> str:
    for chunks in snapshot.by_doc.values():
        if any(normalise(c.section).startswith(prefix) for c in chunks[:50]):
            return chunks[0].source_url
    return ""
