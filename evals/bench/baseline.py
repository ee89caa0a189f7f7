"""The standard LangChain pipeline every benchmark compares against, built the way a tutorial
builds it — TextLoader, RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200),
HuggingFaceEmbeddings on the same bundled model, Chroma.from_documents — with no RegQA code.

RegQA code appears only in `UnitMap`, which scores the baseline's hits for recall@10: a chunk
of 1000 characters carries no citation label, so it is credited with the citable units whose
text it overlaps in the same file — all of them (lenient) or only the one holding most of its
characters (strict); see RESULTS.md, "Matching rule"."""

from __future__ import annotations

import bisect
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evals.bench.common import Stopwatch, console

CHUNK_SIZE = 1000  # characters: the LangChain tutorials' values
CHUNK_OVERLAP = 200
COLLECTION = "langchain-baseline"
PROMPT = (
    "Use the following pieces of context to answer the question at the end. If you don't know "
    "the answer, just say that you don't know.\n\n{context}\n\nQuestion: {question}\nHelpful Answer:"
)


@dataclass
class BuildTimes:
    """Seconds per stage of `build`; `total` is what the user waits for."""

    load: float = 0.0
    split: float = 0.0
    model_load: float = 0.0
    embed_and_store: float = 0.0
    chunks: int = 0
    characters: int = 0
    texts: list[str] = field(default_factory=list)
    cpu: float = 0.0  # CPU seconds of this process over all stages

    @property
    def total(self) -> float:
        return self.load + self.split + self.model_load + self.embed_and_store


def embeddings(model_path: Path) -> Any:
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(model_name=str(model_path), model_kwargs={"device": "cpu"},
                                 encode_kwargs={"normalize_embeddings": True})


def build(files: Sequence[Path], persist_dir: Path, model_path: Path) -> tuple[Any, BuildTimes]:
    """Index `files` from scratch into a persistent Chroma folder; returns (store, stage times)."""
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    shutil.rmtree(persist_dir, ignore_errors=True)
    times = BuildTimes()
    with Stopwatch() as sw:
        # TextLoader (langchain-community) does exactly this: read the file, source in metadata.
        documents = [Document(page_content=p.read_text(encoding="utf-8"), metadata={"source": str(p)})
                     for p in files]
    times.load = sw.seconds
    times.cpu += sw.cpu
    with Stopwatch() as sw:
        # add_start_index keeps each chunk's offset in its file, for the recall matching only.
        splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP,
                                                  add_start_index=True)
        chunks = splitter.split_documents(documents)
    times.split = sw.seconds
    times.cpu += sw.cpu
    times.texts = [c.page_content for c in chunks]
    times.chunks = len(chunks)
    times.characters = sum(map(len, times.texts))
    with Stopwatch() as sw:
        embedder = embeddings(model_path)
    times.model_load = sw.seconds
    times.cpu += sw.cpu
    with console.status(f"LangChain: embedding and storing {len(chunks):,} chunks "
                        "(Chroma.from_documents; no progress callback)"), Stopwatch() as sw:
        store = Chroma.from_documents(chunks, embedder, collection_name=COLLECTION,
                                      persist_directory=str(persist_dir))
    times.embed_and_store = sw.seconds
    times.cpu += sw.cpu
    (persist_dir / "bench-meta.json").write_text(json.dumps(_fingerprint(files, model_path)))
    return store, times


def open_or_build(files: Sequence[Path], persist_dir: Path, model_path: Path) -> Any:
    """The cached baseline store, rebuilt when the files or the model changed."""
    from langchain_chroma import Chroma

    meta = persist_dir / "bench-meta.json"
    if meta.exists() and json.loads(meta.read_text()) == _fingerprint(files, model_path):
        return Chroma(collection_name=COLLECTION, embedding_function=embeddings(model_path),
                      persist_directory=str(persist_dir))
    console.print("Building the LangChain baseline index (cached for later runs)…")
    store, times = build(files, persist_dir, model_path)
    console.print(f"LangChain baseline: {times.chunks:,} chunks in {times.total:.1f} s")
    return store


def stuff(question: str, documents: Sequence[Any]) -> str:
    """'Stuffing': the retrieved page contents joined into one prompt (there is no LLM to call)."""
    return PROMPT.format(context="\n\n".join(d.page_content for d in documents), question=question)


def _fingerprint(files: Sequence[Path], model_path: Path) -> dict[str, Any]:
    return {"files": [[str(p), p.stat().st_size, p.stat().st_mtime_ns] for p in files],
            "model": str(model_path), "chunk_size": CHUNK_SIZE, "chunk_overlap": CHUNK_OVERLAP}


@dataclass
class UnitMap:
    """Which citable units (doc_id, section) a span of a corpus file overlaps, from RegQA's
    chunks of the same files (their start/end are offsets into the file's text)."""

    doc_of_path: dict[str, str]
    spans: dict[str, list[tuple[int, int, str]]] = field(default_factory=dict)
    starts: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def from_index(cls, settings: Any) -> UnitMap:
        from indexer.store import IndexStore

        store = IndexStore(settings.index_dir)
        manifest = store.read_manifest()
        doc_of_path = {entry.path: doc_id for doc_id, entry in manifest.documents.items()}
        spans: dict[str, list[tuple[int, int, str]]] = {}
        for chunk in store.read_chunks(manifest.generation):
            spans.setdefault(chunk.doc_id, []).append((chunk.start, chunk.end, chunk.section))
        for doc_spans in spans.values():
            doc_spans.sort()
        return cls(doc_of_path, spans, {d: [s[0] for s in v] for d, v in spans.items()})

    def units(self, document: Any) -> list[tuple[str, str]]:
        """Units a baseline chunk overlaps, the one holding most of its characters first."""
        doc_id = self.doc_of_path.get(str(document.metadata.get("source")))
        start = document.metadata.get("start_index")
        if doc_id is None or start is None or start < 0:
            return []
        end = start + len(document.page_content)
        doc_spans = self.spans.get(doc_id, [])
        # RegQA chunks are short and ordered; look back a little for spans that start before.
        i = max(0, bisect.bisect_left(self.starts[doc_id], start) - 8) if doc_spans else 0
        overlap: dict[tuple[str, str], int] = {}
        for s, e, section in doc_spans[i:]:
            if s >= end:
                break
            if e > start:
                unit = (doc_id, section)
                overlap[unit] = overlap.get(unit, 0) + min(e, end) - max(s, start)
        return sorted(overlap, key=lambda u: -overlap[u])


def recall_at(gold: Sequence[tuple[str, str]], hits: Sequence[Sequence[tuple[str, str]]], k: int) -> float:
    """Share of gold units matched (evals.matching.citation_matches) by a unit of the top-k hits;
    pass `[h[:1] for h in hits]` to credit each chunk with its main unit only."""
    from evals.matching import citation_matches

    top = [unit for units in hits[:k] for unit in units]
    return sum(any(citation_matches(d, s, gd, gs) for d, s in top) for gd, gs in gold) / len(gold)
