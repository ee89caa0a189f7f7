"""The standard LangChain pipeline every benchmark compares against, built the way a tutorial
builds it — TextLoader, RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200),
HuggingFaceEmbeddings on the same bundled model, Chroma.from_documents — with no RegQA code.

Its hits are scored by the eval harness's own rule (see RESULTS.md, "Matching rule"): a chunk
of 1000 characters carries no citation label, but it carries its file (`source`) and its offset
in it (`start_index`), so it is a hit for a gold item when its character range overlaps that
item's verbatim evidence in the same file (`evals.gold.gold_spans`) — the rule RegQA's
retrieved passages are held to."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evals.bench.common import Stopwatch, console

if TYPE_CHECKING:
    from evals.gold import Span

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


# (document id, start, end) of a baseline chunk in its source file; start is None when unknown
ChunkRange = tuple[str, int | None, int | None]


def chunk_range(document: Any) -> ChunkRange:
    """Where a baseline chunk stands: its file's name without `.md` is the document id (as in
    `evals.gold.SourceTexts`), `start_index` its offset in the file's text."""
    doc = Path(str(document.metadata.get("source", ""))).stem
    start = document.metadata.get("start_index")
    if start is None or start < 0:  # the splitter writes -1 when it could not place a chunk
        return doc, None, None
    return doc, start, start + len(document.page_content)


def recall_at(spans: Sequence[Span], ranked: Sequence[ChunkRange], k: int) -> float:
    """Share of the gold evidence spans that the top-k chunks overlap (same document, shared
    characters); a chunk that overlaps several spans counts for each."""
    found = {i for doc, start, end in ranked[:k] for i, span in enumerate(spans) if span.overlaps(doc, start, end)}
    return len(found) / len(spans) if spans else 0.0


def reciprocal_rank(spans: Sequence[Span], ranked: Sequence[ChunkRange]) -> float:
    """1 / rank of the first chunk that overlaps any gold evidence span, 0 when none does."""
    for rank, (doc, start, end) in enumerate(ranked, start=1):
        if any(span.overlaps(doc, start, end) for span in spans):
            return 1.0 / rank
    return 0.0
