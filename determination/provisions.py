"""Finding provisions in the index by their label and quoting them exactly.

The determination cites fixed provisions (Article 3(1), § 742.7(a)) and control-list entries
found by search; either way each quote is a sentence of a stored passage, located by offsets,
so it passes the same verification as every other citation."""

from __future__ import annotations

import re

from assistant.citations import citation_for
from assistant.records import Citation
from assistant.sentences import sentence_spans
from indexer.reader import Snapshot
from indexer.records import Chunk

EU_REGULATION = "eu-2021-821-dual-use-regulation"
EU_ANNEX_I = "eu-2021-821-annex-i-control-list"
WASSENAAR = "wassenaar-2025-dual-use-list-cat4-cat5p1"
CCL = "15-cfr-part-774-supp-1-ccl"
UK_ORDER = "uk-export-control-order-2008"
MAX_QUOTE = 420  # characters: a long sentence is quoted around the words that matter


class Provisions:
    """Looks units up by (document, label) and numbers the citations of one determination."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self.citations: list[Citation] = []
        self._numbers: dict[tuple[str, str], int] = {}

    def chunks(self, doc_id: str, section: str) -> list[Chunk]:
        """The chunks labelled `section` (or belonging to unit `section`), in document order."""
        return [c for c in self.snapshot.by_doc.get(doc_id, []) if c.section == section or c.unit == section]

    def chunks_of_doc(self, doc_id: str) -> list[Chunk]:
        return self.snapshot.by_doc.get(doc_id, [])

    def first(self, doc_id: str, section: str) -> Chunk | None:
        """The paragraph that opens `section`: its own, or, when its first sub-paragraph shares
        its line (`(a) *General prohibitions.* (1) …` is labelled § 744.9(a)(1)), that one."""
        found = self.chunks(doc_id, section) or [
            c for c in self.snapshot.by_doc.get(doc_id, []) if c.section.startswith(section + "(")]
        return found[0] if found else None

    def mentioning(self, doc_prefix: str, pattern: re.Pattern[str]) -> list[Chunk]:
        """Chunks of the documents whose id starts with `doc_prefix` whose text matches."""
        return [c for doc, chunks in self.snapshot.by_doc.items() if doc.startswith(doc_prefix)
                for c in chunks if pattern.search(c.text)]

    def cite(self, chunk: Chunk, focus: re.Pattern[str] | str | None = None) -> int:
        """The number of a citation quoting the sentence of `chunk` that contains `focus` (its
        first sentence when there is no focus or no sentence holds it)."""
        quote = _quote(chunk.text, focus)
        key = (chunk.chunk_id, quote)
        if key not in self._numbers:
            self._numbers[key] = len(self.citations) + 1
            self.citations.append(citation_for(len(self.citations) + 1, chunk, quote))
        return self._numbers[key]


def _quote(text: str, focus: re.Pattern[str] | str | None) -> str:
    spans = sentence_spans(text, 10) or []
    if not spans:
        return text.strip()
    pattern = re.compile(re.escape(focus), re.I) if isinstance(focus, str) else focus
    chosen = spans[0]
    where = None
    if pattern is not None:
        for span in spans:
            match = pattern.search(text, span.start, span.end)
            if match:
                chosen, where = span, match
                break
    start, end = chosen.start, chosen.end
    if end - start > MAX_QUOTE:
        # A window of whole words around the focus (or the sentence's start): still exact text.
        centre = where.start() if where else start
        start = max(start, centre - MAX_QUOTE // 3)
        end = min(end, start + MAX_QUOTE)
        if start > chosen.start:
            start = text.find(" ", start, end) + 1 or start
        if end < chosen.end:
            end = text.rfind(" ", start, end) or end
    return text[start:end].strip()


def equivalents(code: str) -> dict[str, str]:
    """The same entry in the three lists, derived from the code: EU `5A001.j` = Wassenaar
    `5.A.1.j` = CCL `ECCN 5A001` (the CCL text bundled here stops at the ECCN)."""
    match = re.match(r"^(\d)([A-E])(\d{3})((?:\.[a-z0-9]+)*)$", code) or None
    if match:
        category, group, number, rest = match.groups()
    else:
        wassenaar = re.match(r"^(\d)\.([A-E])\.(\d{1,3})((?:\.[a-z0-9]+)*)$", code)
        if not wassenaar:
            return {}
        category, group, number, rest = wassenaar.groups()
        number = f"{int(number):03d}"
    return {"EU": f"{category}{group}{number}{rest}", "Wassenaar": f"{category}.{group}.{int(number)}{rest}",
            "US": f"ECCN {category}{group}{number}"}
