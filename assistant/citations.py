"""Numbered citations: built only from stored passages, and checked again before an answer
leaves the assistant, so a citation that does not resolve cannot be returned."""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.records import Citation
from indexer.reader import Snapshot
from indexer.records import Chunk

MARKER = re.compile(r"\[(\d{1,3})\]")


def citation_for(n: int, chunk: Chunk, quote: str) -> Citation:
    at = chunk.text.find(quote)
    if at == -1:
        raise ValueError(f"quote is not in passage {chunk.chunk_id}")
    return Citation(
        n=n, chunk_id=chunk.chunk_id, doc_id=chunk.doc_id, cite_as=chunk.cite_as, section=chunk.section,
        heading_path=chunk.heading_path, quote=quote, source_url=chunk.source_url, page=chunk.page,
        as_of=chunk.as_of, completeness=chunk.completeness,
        start=chunk.start + at, end=chunk.start + at + len(quote), unit=chunk.unit or chunk.section,
        unit_title=chunk.unit_title,
    )


@dataclass
class CheckedAnswer:
    answer: str
    citations: list[Citation]
    dropped_markers: list[int]


def verify_citations(answer: str, citations: list[Citation], snapshot: Snapshot,
                     retrieved: set[str]) -> CheckedAnswer:
    """Keep only citations whose passage is stored and was retrieved and whose quote is in it;
    strip markers that point nowhere; renumber in order of first use."""
    valid: dict[int, Citation] = {}
    for citation in citations:
        chunk = snapshot.by_id.get(citation.chunk_id)
        if chunk is None or citation.chunk_id not in retrieved or citation.quote not in chunk.text:
            continue
        # Metadata comes from the store, never from whoever built the citation.
        valid[citation.n] = citation_for(citation.n, chunk, citation.quote).model_copy(
            update={"introduces": citation.introduces})
    dropped: list[int] = []
    order: dict[int, int] = {}

    def renumber(match: re.Match[str]) -> str:
        n = int(match.group(1))
        if n not in valid:
            dropped.append(n)
            return ""
        order.setdefault(n, len(order) + 1)
        return f"[{order[n]}]"

    text = MARKER.sub(renumber, answer)
    text = re.sub(r"[ \t]+(?=[.,;:])", "", text)
    kept = [valid[n].model_copy(update={"n": new, "introduces": order.get(valid[n].introduces or 0)})
            for n, new in sorted(order.items(), key=lambda i: i[1])]
    return CheckedAnswer(text, kept, dropped)
