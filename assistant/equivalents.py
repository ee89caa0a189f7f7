"""The same control-list entry in the other bundled lists, derived from the codes.

The EU's Annex I, the Wassenaar List and the US Commerce Control List number their multilateral
entries the same way: EU `5A001.j` is Wassenaar `5.A.1.j` and lies within CCL `ECCN 5A001`.
An answer that cites one of them names the others that the index holds, so that an exporter
subject to several regimes sees where to look. Only codes the index actually holds are named;
a code is a place to read, not a claim that the texts are identical (the CCL adds US-only
paragraphs, and the lists are amended at different times).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from assistant.references import normalise
from indexer.records import Chunk

_EU_OR_CCL = re.compile(r"^(?:ECCN\s+)?(\d)([A-E])(\d{3})((?:\.[a-z0-9]{1,3})*)$")
_WASSENAAR = re.compile(r"^(\d)\.([A-E])\.(\d{1,3})((?:\.[a-z0-9]{1,3})*)$")
LINE_LEAD = "**Same code in the other bundled lists:**"


@dataclass(frozen=True)
class Code:
    category: str
    group: str
    number: int
    rest: str  # ".j.2"

    @classmethod
    def of(cls, label: str) -> Code | None:
        match = _EU_OR_CCL.match(label) or _WASSENAAR.match(label)
        if match is None:
            return None
        return cls(match.group(1), match.group(2), int(match.group(3)), match.group(4))

    def labels(self) -> list[str]:
        """Candidate labels in every list, most specific first: `5A001.j`, `5.A.1.j`, `5A001`."""
        eu = f"{self.category}{self.group}{self.number:03d}"
        wassenaar = f"{self.category}.{self.group}.{self.number}"
        found = [eu + self.rest, wassenaar + self.rest]
        parts = self.rest.split(".")[1:]
        for cut in range(len(parts) - 1, -1, -1):  # an entry's parent when the list has no such sub-item
            tail = "".join(f".{p}" for p in parts[:cut])
            found += [eu + tail, wassenaar + tail]
        return found


def same_code_elsewhere(cited: Iterable[Chunk], sections: dict[str, list[Chunk]]) -> list[Chunk]:
    """For each cited control-list entry, the most specific unit with the same code in each other
    control list the index holds (one per document, in citation order)."""
    cited = list(cited)
    have = {c.doc_id for c in cited}
    found: list[Chunk] = []
    for chunk in cited:
        code = Code.of(chunk.section) if chunk.doc_type == "control_list" else None
        if code is None:
            continue
        for label in code.labels():
            for other in sorted(sections.get(normalise(label), []), key=lambda c: (c.doc_id, c.ordinal)):
                if other.doc_type != "control_list" or other.doc_id in have:
                    continue
                if Code.of(other.section) is None:
                    continue
                have.add(other.doc_id)
                found.append(other)
    return found


def same_code_line(cited: Iterable[Chunk], sections: dict[str, list[Chunk]],
                   name: Callable[[Chunk], str]) -> str:
    """One line naming those units, or "" when there are none."""
    others = same_code_elsewhere(cited, sections)
    return f"{LINE_LEAD} " + "; ".join(name(c) for c in others) + "." if others else ""
