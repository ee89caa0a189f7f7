"""When a predicted citation counts as a gold one: same document, and the predicted section
equals the gold section or extends it at a boundary (`Article 5(2)` matches `Article 5`;
`Article 50` does not; `§ 742.7(a)(1)` matches `§ 742.7`; `ECCN 5A001.j` matches `ECCN 5A001`)."""

from __future__ import annotations

import re


def normalise_section(section: str) -> str:
    text = section.strip().lower()
    text = re.sub(r"^art\.\s*", "article ", text)
    text = text.replace("§", " ")
    text = re.sub(r"\s+", "", text)
    return text.rstrip(".")


def section_matches(predicted: str, gold: str) -> bool:
    p, g = normalise_section(predicted), normalise_section(gold)
    if not g:
        return False
    return p == g or (p.startswith(g) and p[len(g)] in "(.")


def citation_matches(doc: str, section: str, gold_doc: str, gold_section: str) -> bool:
    return doc == gold_doc and section_matches(section, gold_section)
