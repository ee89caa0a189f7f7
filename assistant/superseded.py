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
    # Only pairs from different dated documents of one jurisdiction can supersede each other:
    # those cheap tests come before any set work (most top candidates share a document).
    info = [(by_id[cid].doc_id, by_id[cid].jurisdiction, by_id[cid].as_of, _words(by_id[cid].text)) for cid in top]
    removed: dict[str, str] = {}
    for i, a in enumerate(top):
        doc_a, place_a, date_a, words_a = info[i]
        if a in removed or not date_a or len(words_a) < MIN_WORDS:
            continue
        for j in range(i + 1, len(top)):
            doc_b, place_b, date_b, words_b = info[j]
            if place_b != place_a or doc_b == doc_a or not date_b or date_b == date_a:
                continue
            b = top[j]
            if b in removed or not _near_identical(words_a, words_b):
                continue
            older, newer = (a, b) if date_a < date_b else (b, a)
            chunk_score[newer] = max(chunk_score[a], chunk_score[b])
            del chunk_score[older]
            removed[older] = newer
            if older == a:
                break
    return removed


@lru_cache(maxsize=65536)  # a pure function of a chunk's text; the same chunks top many questions
def _words(text: str) -> frozenset[str]:
    return frozenset(_WORD.findall(text.lower()))


def _similar_length(a: frozenset[str], b: frozenset[str]) -> bool:
    """The cheap test first: most pairs differ in length too much to be one text."""
    shorter, longer = (len(a), len(b)) if len(a) <= len(b) else (len(b), len(a))
    return shorter >= MIN_WORDS and shorter >= LENGTH_RATIO * longer


def _near_identical(a: frozenset[str], b: frozenset[str]) -> bool:
    return _similar_length(a, b) and len(a & b) >= MIN_JACCARD * len(a | b)
