"""Where the index stands, for /readyz and the chat's status line: absent (being built), warming
up (answers work, dense vectors still arriving) or ready."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from assistant.service import Assistant
from indexer.progress import IndexProgress
from indexer.reader import IndexMissing


@dataclass(frozen=True)
class IndexState:
    status: Literal["not ready", "warming", "ready"]
    dense_coverage: float = 0.0
    indexing: str | None = None  # a running indexer's stage, e.g. "embedding passages 2,560/10,981 (23 %)"
    reason: str | None = None
    documents: int = 0
    chunks: int = 0
    generation: str = ""

    def line(self) -> str:
        """One line for people; empty when there is nothing to say."""
        if self.status == "not ready":
            return f"**Index not ready:** {self.reason}"
        if self.status == "warming":
            return (f"**Index warming up: {int(100 * self.dense_coverage)} %** of passages searchable by meaning; "
                    "exact references, keywords and titles answer already.")
        return ""


def index_state(assistant: Assistant) -> IndexState:
    progress = IndexProgress.running(assistant.settings.index_dir)
    running = progress.describe() if progress is not None else None
    try:
        snapshot = assistant.reader.snapshot()
    except IndexMissing as exc:
        return IndexState("not ready", indexing=running, reason=str(exc))
    coverage = round(snapshot.dense_coverage, 3)
    return IndexState("ready" if coverage >= 1.0 else "warming", coverage, running, None,
                      len(snapshot.manifest.documents), len(snapshot.chunks), snapshot.manifest.generation)
