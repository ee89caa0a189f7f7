"""The short provenance lines under every answer: text dates and partial copies."""

from __future__ import annotations

from assistant.records import Citation
from indexer.store import Manifest

DISCLAIMER = "Not legal advice; check the official text"


def provenance_notices(citations: list[Citation], manifest: Manifest) -> list[str]:
    """One line of dates and one of partial copies; the long provenance prose stays in the
    source details (GET /v1/documents/{id})."""
    docs = [manifest.documents[d] for d in dict.fromkeys(c.doc_id for c in citations) if d in manifest.documents]
    if not docs:
        return [f"{DISCLAIMER}."]
    dates = "; ".join(f"{e.meta.cite_as} {e.meta.as_of or 'undated'}" for e in docs)
    notices = [f"{DISCLAIMER}. Texts as of: {dates}."]
    partial = [e for e in docs if e.meta.completeness_status != "full"]
    if partial:
        marks = "; ".join(f"{e.meta.cite_as} ({', '.join(f'[{c.n}]' for c in citations if c.doc_id == e.meta.id)})"
                          for e in partial)
        notices.append(f"Partial copies in this corpus (other provisions of these instruments are not bundled): {marks}.")
    return notices
