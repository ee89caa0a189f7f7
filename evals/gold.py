"""Where each gold evidence string stands in its source file, and what overlaps it.

Offsets are those of the stored document text (`ParsedDocument.text`, the whole file for
Markdown), the same ones every chunk and citation carries, so "does this citation quote the
answer?" is a comparison of character ranges, not of labels.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from evals.dataset import EvalQuestion


@dataclass(frozen=True)
class Span:
    doc: str
    start: int
    end: int

    def overlaps(self, doc: str, start: int | None, end: int | None) -> bool:
        return doc == self.doc and start is not None and end is not None and start < self.end and self.start < end


class GoldError(ValueError):
    pass


class SourceTexts:
    """The corpus files by document id (the file name without `.md`), read once."""

    def __init__(self, corpus_dir: Path) -> None:
        self._paths = {p.stem: p for p in sorted(corpus_dir.rglob("*.md"))}
        self._texts: dict[str, str] = {}

    def text(self, doc: str) -> str | None:
        if doc not in self._texts:
            path = self._paths.get(doc)
            if path is None:
                return None
            self._texts[doc] = path.read_text(encoding="utf-8")
        return self._texts[doc]


def gold_spans(question: EvalQuestion, sources: SourceTexts) -> list[Span]:
    """One span per gold item; the evidence must occur exactly once in its document."""
    spans = []
    for gold in question.gold:
        text = sources.text(gold.doc)
        if text is None:
            raise GoldError(f"{question.id}: no document {gold.doc!r} in the corpus")
        at = text.find(gold.evidence)
        if at == -1:
            raise GoldError(f"{question.id}: evidence not found verbatim in {gold.doc}: {gold.evidence[:60]!r}")
        if text.find(gold.evidence, at + 1) != -1:
            raise GoldError(f"{question.id}: evidence occurs more than once in {gold.doc}: {gold.evidence[:60]!r}")
        spans.append(Span(gold.doc, at, at + len(gold.evidence)))
    return spans


def check_dataset(questions: Sequence[EvalQuestion], sources: SourceTexts) -> list[str]:
    """Every problem with a gold set's evidence, as readable lines (empty when sound)."""
    problems = []
    for q in questions:
        try:
            gold_spans(q, sources)
        except GoldError as exc:
            problems.append(str(exc))
        evidence = " ".join(g.evidence.lower() for g in q.gold)
        problems += [f"{q.id}: must_mention {m!r} is not in its evidence" for m in q.must_mention
                     if m.lower() not in evidence]
    return problems


def units(entries: Iterable[tuple[str, str, int | None, int | None]]) -> list[list[tuple[str, int | None, int | None]]]:
    """Group (doc, key, start, end) entries into distinct units in order of first appearance: a
    unit is one (document, label) — the label plus the unit name where one label holds several
    units, as § 772.1 holds every definition; its passages keep their spans."""
    order: dict[tuple[str, str], list[tuple[str, int | None, int | None]]] = {}
    for doc, section, start, end in entries:
        order.setdefault((doc, section), []).append((doc, start, end))
    return list(order.values())


def hits(unit: list[tuple[str, int | None, int | None]], spans: Sequence[Span]) -> set[int]:
    """Indexes of the gold spans that a unit's passages overlap."""
    return {i for i, span in enumerate(spans) if any(span.overlaps(d, s, e) for d, s, e in unit)}
