"""A keyword index over what each citable unit calls itself: its designation, its heading and
the headings above it (`§ 740.13 Technology and software—unrestricted (TSU)`, `ECCN 5A001`,
`Article 5 — Export of cyber-surveillance items`, a defined term).

A unit's own title is the strongest evidence there is that it is *about* something: the body
of § 740.2 mentions TSU in passing, the heading of § 740.13 names it. Built in memory from the
committed chunks once per index generation (a few thousand distinct headings: well under a
second), so the index on disk needs nothing new.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from indexer.records import Chunk
from indexer.sparse import SparseIndex

SEPARATOR = " › "


def title_of(chunk: Chunk) -> str:
    """The words a unit is known by: its heading path without the instrument's name (every
    unit of a document shares that), its label, and its own title where the chunker gave one."""
    path = chunk.heading_path.split(SEPARATOR)
    words = path[1:] if len(path) > 1 else path
    own = getattr(chunk, "unit_title", "") or ""
    # Not the paragraph's own label: every paragraph of § 740.2 would get a title row of its
    # own, and the words of a long section's heading would look common to BM25 (low idf) while
    # a short section's "(TSU)" looked no rarer. One row per heading counts a section once.
    return " ".join(dict.fromkeys([*words, own])) or chunk.section


@dataclass
class TitleIndex:
    """BM25 over distinct titles; a title's hit ranks every chunk that carries it."""

    sparse: SparseIndex
    members: list[list[int]]  # title row -> chunk positions (in snapshot.sparse.ids order)
    row_of: np.ndarray  # chunk position -> title row

    @classmethod
    def build(cls, chunks_in_order: list[Chunk]) -> TitleIndex:
        rows: dict[str, int] = {}
        members: list[list[int]] = []
        row_of = np.zeros(len(chunks_in_order), dtype=np.int64)
        for position, chunk in enumerate(chunks_in_order):
            title = title_of(chunk)
            row = rows.setdefault(title, len(rows))
            if row == len(members):
                members.append([])
            members[row].append(position)
            row_of[position] = row
        sparse = SparseIndex.build([str(i) for i in range(len(rows))], list(rows))
        return cls(sparse, members, row_of)

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> list[tuple[int, float]]:
        """Top-k (title row, BM25 score); with a chunk mask, only titles of allowed chunks."""
        title_mask = None
        if mask is not None:
            title_mask = np.zeros(len(self.members), dtype=np.float32)
            title_mask[self.row_of[mask > 0]] = 1.0
        return [(int(row), score) for row, score in self.sparse.search(query, k, title_mask)]
