"""The on-disk index: a manifest (the commit point) naming one generation of chunks + BM25.

Layout under the data dir:
    manifest.json                 committed index: documents, hashes, generation, collection
    generations/<gen>/chunks.jsonl every chunk record of that generation, in document order
    generations/<gen>/bm25/        the BM25 index over exactly those chunks
    chroma/                        embedded Chroma (unless REGQA_CHROMA_URL is set)
A run writes a new generation, then replaces manifest.json atomically; until that moment
readers keep seeing the previous generation, so an interrupted run loses nothing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from filelock import FileLock, Timeout
from pydantic import BaseModel, Field

from indexer.pause import pause_point
from indexer.records import Chunk, DocumentMeta
from indexer.sparse import SparseIndex

FORMAT_VERSION = 1


class DocumentEntry(BaseModel):
    meta: DocumentMeta
    path: str
    sha256: str
    chunk_count: int
    indexed_at: str


class Manifest(BaseModel):
    format: int = FORMAT_VERSION
    chunking: str = ""
    embedding: str = ""
    collection: str = ""
    generation: str = ""
    committed_at: str = ""
    # False while a warm start's vectors are still being stored: chunks and BM25 are committed,
    # the collection is filling up (see indexer/pipeline.py); readers search what is there.
    dense_ready: bool = True
    # Vectors in one Chroma collection per (jurisdiction, doc_type), named `<collection>--p-…`:
    # the layout above REGQA_EXACT_SEARCH_LIMIT chunks (indexer/dense.py).
    partitioned: bool = False
    documents: dict[str, DocumentEntry] = Field(default_factory=dict)


class IndexBusy(RuntimeError):
    """Another process is writing the index right now."""


class IndexStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifest_path = root / "manifest.json"
        self.generations = root / "generations"
        self.chroma_dir = root / "chroma"
        self.embedding_cache_path = root / "embedding-cache.sqlite"
        self.lock_path = root / "index.lock"
        self._writer = FileLock(str(self.lock_path), timeout=0)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """The single-writer lock (CLI runs, API uploads, check --repair), across processes.

        Never waits: a second writer gets IndexBusy at once. Re-entrant for this store object,
        so a caller can stage files under the lock and then run the indexer inside it."""
        self.root.mkdir(parents=True, exist_ok=True)
        try:
            self._writer.acquire()
        except Timeout:
            raise IndexBusy(
                f"another indexing run is writing {self.root}; try again when it has finished"
            ) from None
        try:
            yield
        finally:
            self._writer.release()

    def exists(self) -> bool:
        return self.manifest_path.exists()

    def read_manifest(self) -> Manifest:
        if not self.manifest_path.exists():
            return Manifest()
        return Manifest.model_validate_json(self.manifest_path.read_text(encoding="utf-8"))

    def read_chunks(self, generation: str) -> list[Chunk]:
        if not generation:
            return []
        path = self.generations / generation / "chunks.jsonl"
        with path.open(encoding="utf-8") as handle:
            return [Chunk.model_validate_json(line) for line in handle if line.strip()]

    def read_sparse(self, generation: str) -> SparseIndex:
        return SparseIndex.load(self.generations / generation / "bm25")

    def new_generation(self) -> str:
        return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + f"-{os.getpid()}"

    def write_generation(self, generation: str, chunks: list[Chunk], sparse: SparseIndex) -> None:
        directory = self.generations / generation
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / "chunks.jsonl").open("w", encoding="utf-8") as handle:
            for chunk in chunks:
                handle.write(chunk.model_dump_json() + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        sparse.save(directory / "bm25")

    def commit(self, manifest: Manifest) -> None:
        """The single atomic step that makes a new generation visible."""
        manifest.committed_at = datetime.now(UTC).isoformat(timespec="seconds")
        tmp = self.manifest_path.with_suffix(".json.tmp")
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(manifest.model_dump_json(indent=1))
            handle.flush()
            os.fsync(handle.fileno())
        pause_point("before-manifest-rename")  # crash tests: the commit record written, not in place
        os.replace(tmp, self.manifest_path)
        _fsync_dir(self.root)

    def remove_other_generations(self, keep: str) -> None:
        if not self.generations.exists():
            return
        for directory in self.generations.iterdir():
            if directory.name != keep:
                shutil.rmtree(directory, ignore_errors=True)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
