"""Superseded duplicates: the same provision bundled twice, in an older and a newer instrument.

Regulation (EU) 2021/821's 2023 consolidation carries Annex I Part I (its definitions), and
Delegated Regulation (EU) 2025/2003 replaced Annex I in full; both are bundled, so most Part I
definitions exist twice, almost word for word. Which of the two ranks first was decided by a
few thousandths of cosine similarity — by the CPU's int8 kernels, as it turned out (the frozen
test split's eu-018 flipped between two machines). Among the candidates, a passage that nearly
repeats one from a document of a later `as_of` is the superseded text: it leaves the candidates
and its score goes to the newer version, which an answer should quote."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

from indexer.records import Chunk

# Near-identical: at least this share of distinct words in common (Jaccard), lengths within
# LENGTH_RATIO, and enough words that a shared formula ("(iv) License Exception TSU ...;") does
# not count. Amended definitions differ by a word or two ("purpose"/"purposes"): ~0.95.
MIN_JACCARD = 0.85
LENGTH_RATIO = 0.8
MIN_WORDS = 12
CANDIDATES = 50  # the best-scored chunks compared pairwise (1,225 set comparisons, ~1 ms)

_WORD = re.compile(r"\w+")


def drop_superseded(chunk_score: dict[str, float], by_id: Mapping[str, Chunk],
                    candidates: int = CANDIDATES) -> dict[str, str]:
    """Remove from `chunk_score` (in place) each top candidate that nearly repeats a top candidate
    of the same jurisdiction from a document with a later `as_of`; the newer one keeps the better
    of the two scores. Returns {removed chunk id: the chunk id that supersedes it}."""
    top = sorted(chunk_score, key=lambda cid: (-chunk_score[cid], cid))[:candidates]
    words = {cid: _words(by_id[cid].text) for cid in top}
    removed: dict[str, str] = {}
    for i, a in enumerate(top):
        for b in top[i + 1:]:
            if a in removed:
                break
            if b in removed:
                continue
            older, newer = _ordered(by_id[a], by_id[b])
            if older is None or newer is None or not _near_identical(words[a], words[b]):
                continue
            chunk_score[newer.chunk_id] = max(chunk_score[a], chunk_score[b])
            del chunk_score[older.chunk_id]
            removed[older.chunk_id] = newer.chunk_id
    return removed


@lru_cache(maxsize=65536)  # a pure function of a chunk's text; the same chunks top many questions
def _words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))


def _ordered(a: Chunk, b: Chunk) -> tuple[Chunk | None, Chunk | None]:
    """(older, newer) when the two come from different documents of one jurisdiction with
    different dates; (None, None) otherwise."""
    if a.doc_id == b.doc_id or a.jurisdiction != b.jurisdiction or not a.as_of or not b.as_of or a.as_of == b.as_of:
        return None, None
    return (a, b) if a.as_of < b.as_of else (b, a)


def _near_identical(a: frozenset[str], b: frozenset[str]) -> bool:
    if min(len(a), len(b)) < MIN_WORDS or min(len(a), len(b)) < LENGTH_RATIO * max(len(a), len(b)):
        return False
    return len(a & b) >= MIN_JACCARD * len(a | b)
