"""A named unit that is not in the index: missing from a partial copy, or not existing at all?

Most bundled documents are partial (their `completeness` says so): selected EAR sections, three
ECRA sections, part of the CCL. `§ 742.13` is absent because part 742 is bundled in part, not
because it does not exist; `§ 742.7(z)` or `Article 99` of a regulation whose Articles 1-32 are
all present is a false premise. The rule, from what the index itself holds: a top-level unit
whose number falls *between* two bundled units of a partial document (a gap in the selection)
is "not bundled"; one beyond the last, a lettered unit between two bundled neighbours (`Article
7a` between Articles 7 and 8), or a missing sub-item of a bundled unit, is a false premise. A supplement that no document carries is not bundled.

Below the first or past the last bundled unit the index alone cannot tell: part 730 is bundled
as § 730.5 only, yet §§ 730.1-730.4 and 730.6-730.10 exist. There the corpus MANIFEST decides:
the sections it records as existing but not copied (`RECORDED_MISSING`) are not bundled.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from assistant.not_bundled import EAR_PARTS, ear_part_url
from assistant.references import Reference, names_instrument, normalise
from indexer.reader import Snapshot
from indexer.records import Chunk

# Top-level designations (normalised): a prefix shared by siblings and an ordinal within it.
_TOP = {
    "cfr": re.compile(r"^(§\d+\.)(\d+)([a-z]?)"),
    "article": re.compile(r"^(article )(\d+)([a-z]?)"),
    "control_code": re.compile(r"^(\d[a-z])(\d{3})()"),
    "wassenaar": re.compile(r"^(\d+\.[a-e]\.)(\d+)()"),
    "usc": re.compile(r"^(\d+ u\.s\.c\. §) ?(\d+)([a-z]?)"),  # normalised labels keep "§ 4812"'s space
}


# Sections that exist but are not in the bundled copies, as corpus/us-ear/MANIFEST.md ("Refresh
# of 2026-11-30", "Still missing") and the ECRA document's `completeness` record them. A unit
# listed here that a later refresh bundles is found in the index first, so a stale entry is harmless.
RECORDED_MISSING = (
    "§§ 730.1-730.4, 730.6-730.10; 732.1, 732.5, 732.6; 734.1, 734.6, 734.8, 734.12-734.16; 736.1; "
    "740.18; 742.9, 742.12, 742.13, 742.16, 742.20; 744.12, 744.14, 744.15",
    "50 U.S.C. §§ 4801, 4813-4818, 4820-4826",
    "ECCNs 0A980, 8D001",
)
# The CCL is bundled "partial" for its License Requirements blocks, not its entries: every ECCN is
# there but the two above (MANIFEST). A missing ECCN in a gap between bundled ones (3A982)
# therefore does not exist; the gap rule does not apply to it.
ENTRIES_COMPLETE = ("15 CFR Part 774, Supplement No. 1",)


# Lettered units that exist but that a bundled copy lacks although it holds their neighbours,
# by document (MANIFEST: the UK Order's source has no Articles 4A and 12A). Any other lettered
# unit between two bundled neighbours (`Article 7a` of 2021/821, whose Articles 1-32 are all
# bundled) is not a gap in a selection but a unit the text does not have.
RECORDED_MISSING_INSERTED = {"uk-export-control-order-2008": frozenset({"article 4a", "article 12a"})}


# Licence exceptions whose own section is among them, by the code the EAR names them with.
RECORDED_MISSING_CODES = {"AGR": "§ 740.18"}


def _recorded_missing() -> frozenset[tuple[str, float]]:
    """RECORDED_MISSING as (prefix, number) pairs in `_top`'s terms, ranges expanded."""
    found: set[tuple[str, float]] = set()
    for line in RECORDED_MISSING:
        if line.startswith("ECCNs"):
            found.update((code[:2].lower(), float(code[2:])) for code in re.findall(r"\d[A-Z]\d{3}", line))
            continue
        if line.startswith("50 U.S.C."):
            for a, b in re.findall(r"(\d{4})(?:-(\d{4}))?", line):
                found.update(("50 u.s.c. §", float(n)) for n in range(int(a), int(b or a) + 1))
            continue
        for part, a, b in re.findall(r"(\d{3})\.(\d+)(?:-\1\.(\d+))?", line):
            found.update((f"§{part}.", float(n)) for n in range(int(a), int(b or a) + 1))
    return frozenset(found)


_MISSING_UNITS = _recorded_missing()


@dataclass(frozen=True)
class NotBundled:
    reference: Reference
    where: str  # the instrument, as cited ("15 CFR Part 742"), or the part that is not bundled
    url: str  # the official source to read it in ("" when no bundled document names one)
    held: bool = True  # False: no indexed document is `where` at all (15 CFR Part 743)


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
            holder = _holder(snapshot, f"§{part}.")
            found.append(NotBundled(ref, f"15 CFR Part {part}", holder.source_url if holder else ear_part_url(int(part)),
                                    held=holder is not None))
            continue
        if ref.kind in ("recital", "munitions"):
            gap = _recital_gap(snapshot, ref) if ref.kind == "recital" else _munitions_gap(ref)
            if gap is not None:
                found.append(gap)
            continue
        wanted = _top(ref.kind, ref.label)
        if wanted is None:
            continue
        if ref.kind == "wassenaar":
            gap = _wassenaar_gap(snapshot, ref, wanted)
            if gap is not None:
                found.append(gap)
            continue
        if wanted in _MISSING_UNITS:
            found.append(_recorded(snapshot, ref, wanted[0]))
            continue
        part = int(wanted[0].strip("§.").split(".")[0]) if ref.kind == "cfr" else None
        if part in EAR_PARTS and _holder(snapshot, wanted[0]) is None:  # a part of the EAR not bundled at all
            found.append(NotBundled(ref, f"15 CFR Part {part}", ear_part_url(part), held=False))
            continue
        for chunks in snapshot.by_doc.values():
            first = chunks[0]
            if not names_instrument(ref, first.cite_as):
                continue
            numbers = {top[1] for c in chunks if (top := _top(ref.kind, normalise(c.section))) and top[0] == wanted[0]}
            if not numbers or wanted[1] in numbers:
                continue
            if ref.kind == "control_code" and first.cite_as.startswith(ENTRIES_COMPLETE):
                continue
            if _partial(first) and min(numbers) < wanted[1] < max(numbers):
                inserted = wanted[1] % 1 > 0 and {wanted[1] - 0.5, wanted[1] + 0.5} <= numbers
                if inserted and ref.label not in RECORDED_MISSING_INSERTED.get(first.doc_id, frozenset()):
                    continue  # between two bundled neighbours: no gap there (a false premise)
                found.append(NotBundled(ref, first.cite_as, first.source_url))
                break
    return found


def _wassenaar_entries(snapshot: Snapshot) -> tuple[Chunk, set[tuple[str, float]]] | None:
    """The bundled Wassenaar List's first chunk and the top-level entries it holds (`("5.a.", 1)`
    for 5.A.1), or None when no document is the Wassenaar List; once per index generation."""
    return snapshot.derive("wassenaar_entries", lambda: _find_wassenaar_entries(snapshot))


def _find_wassenaar_entries(snapshot: Snapshot) -> tuple[Chunk, set[tuple[str, float]]] | None:
    first = _document_with(snapshot, lambda c: _top("wassenaar", normalise(c.section)) is not None, 200)
    if first is None:
        return None
    return first, {top for c in snapshot.by_doc[first.doc_id] if (top := _top("wassenaar", normalise(c.section)))}


# Category 5 Part 2 ("Information Security") of the Wassenaar List: its entries are 5.A.2, 5.B.2,
# 5.D.2, 5.E.2, while Part 1's are 5.x.1.
WASSENAAR_PART_2 = ("5", 2)


def _wassenaar_gap(snapshot: Snapshot, ref: Reference, wanted: tuple[str, float]) -> NotBundled | None:
    """The bundled Wassenaar List holds Categories 4 and 5 Part 1 in full (MANIFEST: "complete for
    the sections included"). An entry of a category (or of Category 5 Part 2) it does not hold
    exists but is not bundled (`6.A.3`); a missing entry of a bundled category (`4.D.5`, `5.A.9`)
    or a missing sub-item of a bundled entry (`5.A.1.z`) is a false premise."""
    held = _wassenaar_entries(snapshot)
    if held is None:
        return None
    first, tops = held
    if wanted in tops:
        return None
    category = wanted[0].split(".")[0]
    if category in {prefix.split(".")[0] for prefix, _ in tops} and (category, wanted[1]) != WASSENAAR_PART_2:
        return None
    return NotBundled(ref, first.cite_as, first.source_url)


MUNITIONS_LIST = ("the Wassenaar Munitions List and the UK Military List (Schedule 2 to the Export Control Order "
                  "2008)", "https://www.wassenaar.org/control-lists/")
MUNITIONS_CATEGORIES = 22  # ML1-ML22


def _munitions_gap(ref: Reference) -> NotBundled | None:
    """Munitions List categories ML1-ML22 exist; neither list is bundled."""
    number = int(ref.label.removeprefix("ml"))
    return NotBundled(ref, *MUNITIONS_LIST, held=False) if 1 <= number <= MUNITIONS_CATEGORIES else None


def _recital_gap(snapshot: Snapshot, ref: Reference) -> NotBundled | None:
    """Regulation (EU) 2021/821 is bundled without recitals, Recommendation (EU) 2024/2659 with
    recitals (1)-(4) only (MANIFEST): a recital the index lacks is not bundled, never a false
    premise."""
    if ref.instrument:
        named = _document_with(snapshot, lambda c: names_instrument(ref, c.cite_as) and _partial(c), 1)
        return NotBundled(ref, named.cite_as, named.source_url) if named is not None else None
    # No instrument named: the one document that carries recitals, if partial.
    with_recitals = [chunks[0] for chunks in snapshot.by_doc.values()
                     if any(c.section.startswith("Recital") for c in chunks[:50])]
    if len(with_recitals) == 1 and _partial(with_recitals[0]):
        return NotBundled(ref, with_recitals[0].cite_as, with_recitals[0].source_url)
    return None


def _recorded(snapshot: Snapshot, ref: Reference, prefix: str) -> NotBundled:
    """A unit the MANIFEST records as not bundled, named by the document that holds its
    neighbours ("15 CFR Part 730") when one is indexed."""
    if ref.kind == "control_code":  # an ECCN: the CCL, not the EU Annex I with the same codes
        holder = _document_with(snapshot, lambda c: c.cite_as.startswith(ENTRIES_COMPLETE), 1)
    else:
        holder = _holder(snapshot, prefix)
    if holder is not None:
        return NotBundled(ref, holder.cite_as, holder.source_url)
    if ref.kind == "control_code":
        return NotBundled(ref, ENTRIES_COMPLETE[0], "")
    part = prefix.strip("§.")
    return NotBundled(ref, f"15 CFR Part {part}" if prefix.startswith("§") else "50 U.S.C. chapter 58", "")


def _partial(chunk: Chunk) -> bool:
    return chunk.completeness.strip().lower().startswith("partial")


def _holder(snapshot: Snapshot, prefix: str) -> Chunk | None:
    """The first chunk of the document whose units carry the label prefix ("§730.")."""
    return _document_with(snapshot, lambda c: normalise(c.section).startswith(prefix))


def _document_with(snapshot: Snapshot, test: Callable[[Chunk], bool], within: int = 50) -> Chunk | None:
    """The first chunk of the first document one of whose first `within` chunks passes `test`."""
    for chunks in snapshot.by_doc.values():
        if any(test(c) for c in chunks[:within]):
            return chunks[0]
    return None


_CATEGORY = re.compile(r"\bCategory\s+(\d)(?:\s+Part\s+(\d))?\b", re.I)


def category_gap(snapshot: Snapshot, question: str) -> str:
    """"Category 3 of the Wassenaar list" when the bundled Wassenaar List holds Categories 4 and
    5 Part 1 only: the reason the answer is not here, or "" (the category is held, or the question
    names no Wassenaar category)."""
    if not re.search(r"\bWassenaar\b", question):
        return ""
    entries = _wassenaar_entries(snapshot)
    if entries is None:
        return ""
    first, tops = entries
    held = {prefix.split(".")[0] for prefix, _ in tops}
    for match in _CATEGORY.finditer(question):
        category, part = match.group(1), match.group(2)
        if category not in held or (category, int(part or 0)) == WASSENAAR_PART_2:
            return (f"Category {category}{f' Part {part}' if part else ''} is not in the bundled copy of "
                    f"{first.cite_as}, which holds selected categories only (official text: {first.source_url})")
    return ""
