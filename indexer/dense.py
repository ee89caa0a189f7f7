"""Dense vectors in Chroma: embedded PersistentClient by default, a Chroma server when
REGQA_CHROMA_URL is set. Chroma never embeds anything itself (its default function downloads
a model), and its telemetry is off."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from urllib.parse import urlparse

import numpy as np

from indexer.records import Chunk


class DenseIndex:
    def __init__(self, chroma_url: str | None, persist_dir: Path) -> None:
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
        if chroma_url:
            url = urlparse(chroma_url)
            self.client = chromadb.HttpClient(
                host=url.hostname or "127.0.0.1",
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=settings,
            )
            self.location = chroma_url
        else:
            persist_dir.mkdir(parents=True, exist_ok=True)
            self.client = chromadb.PersistentClient(path=str(persist_dir), settings=settings)
            self.location = str(persist_dir)

    @classmethod
    def fresh(cls, chroma_url: str | None, persist_dir: Path) -> DenseIndex:
        """A client that sees every write made so far, by any process. Embedded Chroma keeps one
        client state per folder and process, and that state never notices another process's
        writes (`regqa index` while `regqa serve` runs: "Error finding id"), so readers take a
        fresh one per committed generation. Clients made earlier keep working."""
        if not chroma_url:
            from chromadb.api.shared_system_client import SharedSystemClient

            SharedSystemClient.clear_system_cache()
        return cls(chroma_url, persist_dir)

    def collection(self, name: str):  # noqa: ANN201 - chromadb's Collection type
        # embedding_function=None: vectors always come from RegQA's own model.
        return self.client.get_or_create_collection(
            name=name, embedding_function=None, metadata={"hnsw:space": "cosine"}
        )

    def collection_names(self) -> list[str]:
        return [c if isinstance(c, str) else c.name for c in self.client.list_collections()]

    def drop(self, name: str) -> None:
        if name in self.collection_names():
            self.client.delete_collection(name)

    def existing_ids(self, name: str, ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        col = self.collection(name)
        for batch in _batches(list(ids), 5000):
            found.update(col.get(ids=batch, include=[])["ids"])
        return found

    def all_ids(self, name: str) -> set[str]:
        col = self.collection(name)
        found: set[str] = set()
        offset = 0
        while True:
            page = col.get(include=[], limit=10000, offset=offset)["ids"]
            found.update(page)
            if len(page) < 10000:
                return found
            offset += len(page)

    def upsert(self, name: str, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        col = self.collection(name)
        step = max(1, min(5000, self.client.get_max_batch_size()))
        for i in range(0, len(chunks), step):
            part = chunks[i : i + step]
            col.upsert(
                ids=[c.chunk_id for c in part],
                embeddings=vectors[i : i + step],
                metadatas=[
                    {"doc_id": c.doc_id, "jurisdiction": c.jurisdiction, "doc_type": c.doc_type,
                     "section": c.section}
                    for c in part
                ],
            )

    def delete(self, name: str, ids: Iterable[str]) -> None:
        col = self.collection(name)
        for batch in _batches(list(ids), 5000):
            col.delete(ids=batch)

    def count(self, name: str) -> int:
        return self.collection(name).count()


def _batches(items: list[str], size: int) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]
