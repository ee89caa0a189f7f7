"""`regqa check`: verify the committed index against its manifest and the corpus, and repair
what can be repaired in place.

Every problem has a severity, because they call for different answers:
  corrupt   the committed index cannot answer correctly (its chunks, BM25 and vectors disagree,
            or a file is gone): queries may fail or cite the wrong thing;
  drift     the corpus changed after it was indexed: the index is sound, `regqa index` catches up;
  leftover  what an interrupted run left behind (an uncommitted generation, a temp manifest,
            vectors no committed chunk names): queries never see it, `--repair` removes it.
The check holds the index write lock, so what it finds is never a running writer's work in
progress; a writer that arrives meanwhile is told the index is busy, as with any other writer.
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from indexer.dense import DenseIndex
from indexer.embeddings import embedding_identity
from indexer.loaders.metadata import sidecar_path
from indexer.pipeline import Indexer, IndexSummary, _file_digest
from indexer.records import Chunk
from indexer.store import IndexStore, Manifest
from regqa.config import Settings

Severity = Literal["corrupt", "drift", "leftover"]
REBUILD = "run `regqa index --rebuild`"
_SHOWN = 3  # ids named in a message; the JSON report lists them all


@dataclass(frozen=True)
class Problem:
    kind: str
    severity: Severity
    message: str
    repairable: bool  # `regqa check --repair` fixes it in place
    items: tuple[str, ...] = ()


@dataclass
class CheckReport:
    index_dir: str
    generation: str = ""
    collection: str = ""
    documents: int = 0
    chunks: int = 0
    vectors: int = 0
    problems: list[Problem] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not self.problems

    @property
    def usable(self) -> bool:
        """Queries get correct answers from the committed index (drift and leftovers allowed)."""
        return not any(p.severity == "corrupt" for p in self.problems)

    def kinds(self) -> set[str]:
        return {p.kind for p in self.problems}

    def as_dict(self) -> dict:
        return {**asdict(self), "healthy": self.healthy, "usable": self.usable}


@dataclass
class _Findings:
    """What the inspection saw, kept for repair."""

    report: CheckReport
    manifest: Manifest | None = None
    chunks: list[Chunk] | None = None
    missing_vectors: list[Chunk] = field(default_factory=list)
    orphan_vectors: set[str] = field(default_factory=set)
    stale_collections: list[str] = field(default_factory=list)
    stale_generations: list[Path] = field(default_factory=list)
    temp_files: list[Path] = field(default_factory=list)
    stray_uploads: list[Path] = field(default_factory=list)
    can_embed: bool = False

    def add(self, kind: str, severity: Severity, message: str, repairable: bool = False,
            items: Iterable[str] = ()) -> None:
        self.report.problems.append(Problem(kind, severity, message, repairable, tuple(items)))


def check_index(settings: Settings) -> CheckReport:
    """Inspect the index under the write lock; raises IndexBusy while another writer runs."""
    store = IndexStore(settings.index_dir)
    if not store.exists():
        return _inspect(settings, store).report
    with store.writing():
        return _inspect(settings, store).report


def repair_index(settings: Settings, embedder_factory: Callable[[], object] | None = None) -> CheckReport:
    """Fix what can be fixed in place, then inspect again; the report lists what was done.

    Missing vectors are re-embedded by the indexer's own path (embedding cache, then the model),
    so they are exactly what `regqa index` would have stored."""
    store = IndexStore(settings.index_dir)
    if not store.exists():
        return _inspect(settings, store).report
    with store.writing():
        found = _inspect(settings, store)
        done = _repair(settings, store, found, embedder_factory)
        report = _inspect(settings, store).report
        report.repaired = done
        return report


# -- inspection --------------------------------------------------------------------------------

def _inspect(settings: Settings, store: IndexStore) -> _Findings:
    found = _Findings(CheckReport(index_dir=str(store.root)))
    if not store.exists():
        found.add("no_index", "corrupt", f"no index at {store.root}; run `regqa index` to build one")
        return found
    try:
        manifest = store.read_manifest()
    except (OSError, ValueError) as exc:
        found.add("manifest_unreadable", "corrupt", f"manifest.json cannot be read ({_brief(exc)}); {REBUILD}")
        return found
    found.manifest = manifest
    report = found.report
    report.generation, report.collection = manifest.generation, manifest.collection
    report.documents = len(manifest.documents)
    _inspect_generation(store, manifest, found)
    _inspect_dense(settings, store, manifest, found)
    _inspect_files(manifest, found)
    _inspect_leftovers(store, manifest, found)
    return found


def _inspect_generation(store: IndexStore, manifest: Manifest, found: _Findings) -> None:
    """chunks.jsonl and BM25 of the committed generation load, and agree with the manifest."""
    try:
        chunks = store.read_chunks(manifest.generation)
    except Exception as exc:  # noqa: BLE001 - whatever a damaged file raises is the finding
        found.add("chunks_unreadable", "corrupt",
                  f"the chunks of generation {manifest.generation!r} cannot be read ({_brief(exc)}); {REBUILD}")
        return
    found.chunks = chunks
    found.report.chunks = len(chunks)
    ids = [c.chunk_id for c in chunks]
    duplicates = sorted(i for i, n in Counter(ids).items() if n > 1)
    if duplicates:
        found.add("duplicate_chunks", "corrupt", f"{len(duplicates)} chunk ids occur twice "
                  f"({_some(duplicates)}); {REBUILD}", items=duplicates)
    per_doc: dict[str, int] = {}
    for chunk in chunks:
        per_doc[chunk.doc_id] = per_doc.get(chunk.doc_id, 0) + 1
    unknown = sorted(set(per_doc) - set(manifest.documents))
    if unknown:
        found.add("chunks_without_document", "corrupt", f"chunks belong to documents the manifest does "
                  f"not list ({_some(unknown)}); {REBUILD}", items=unknown)
    for doc_id, entry in sorted(manifest.documents.items()):
        held = per_doc.get(doc_id, 0)
        if held != entry.chunk_count:
            found.add("document_chunks_mismatch", "corrupt", f"document {doc_id!r} should have "
                      f"{entry.chunk_count} chunks, the committed generation holds {held}; {REBUILD}",
                      items=[doc_id])
    try:
        sparse = store.read_sparse(manifest.generation)
    except Exception as exc:  # noqa: BLE001 - whatever a damaged file raises is the finding
        found.add("sparse_unreadable", "corrupt",
                  f"the BM25 index of generation {manifest.generation!r} cannot be loaded ({_brief(exc)}); {REBUILD}")
        return
    bm25_docs = int(sparse._retriever.scores.get("num_docs", -1))
    if sparse.ids != ids or bm25_docs != len(chunks):
        only_sparse = sorted(set(sparse.ids) - set(ids))
        only_chunks = sorted(set(ids) - set(sparse.ids))
        found.add("sparse_mismatch", "corrupt",
                  f"BM25 holds {bm25_docs} documents over {len(sparse.ids)} ids, the generation {len(ids)} "
                  f"chunks ({len(only_sparse)} ids only in BM25, {len(only_chunks)} only in chunks, or a "
                  f"different order); {REBUILD}", items=only_sparse + only_chunks)


def _inspect_dense(settings: Settings, store: IndexStore, manifest: Manifest, found: _Findings) -> None:
    """Chroma's collection holds a vector for exactly the committed chunks, from the same model."""
    identity = embedding_identity(settings)
    found.can_embed = not manifest.embedding or manifest.embedding == identity
    if not found.can_embed:
        found.add("embedding_mismatch", "corrupt",
                  f"the index was embedded with {manifest.embedding!r} but these settings embed with "
                  f"{identity!r}, so queries are refused; run `regqa index` to re-embed, or use the "
                  "settings (REGQA_EMBEDDING_BACKEND, model) it was built with")
    dense = DenseIndex.fresh(settings.chroma_server, store.chroma_dir)  # what is on disk, not a cached view
    names = dense.collection_names()
    prefix = f"{settings.collection}-"
    vectors = dense.store(manifest.collection, manifest.partitioned)
    current = {manifest.collection, *vectors.collection_names()}
    found.stale_collections = sorted(n for n in names if n not in current and n.startswith(prefix))
    for name in found.stale_collections:
        found.add("stale_collection", "leftover", f"Chroma collection {name!r} is not used by the "
                  "committed index (an earlier model, or an interrupted rebuild); --repair drops it",
                  repairable=True, items=[name])
    if found.chunks is None:
        return
    expected = {c.chunk_id for c in found.chunks}
    exists = bool(vectors.collection_names())  # the collection, or at least one partition
    if not exists:
        stored: set[str] = set()
        if expected:
            found.add("collection_missing", "corrupt", f"the Chroma collection {manifest.collection!r} "
                      f"named by the manifest does not exist; --repair re-embeds all {len(expected)} chunks",
                      repairable=found.can_embed)
    else:
        stored = vectors.all_ids()
    # Complete: stored wherever the layout keeps it (a partition and the whole collection).
    complete = vectors.existing_ids(sorted(expected & stored)) if stored else set()
    found.report.vectors = len(complete)
    found.missing_vectors = [c for c in found.chunks if c.chunk_id not in complete]
    found.orphan_vectors = stored - expected
    if found.missing_vectors and exists and not manifest.dense_ready:
        missing = [c.chunk_id for c in found.missing_vectors]
        found.add("vectors_pending", "drift", f"{len(missing)} of {len(expected)} chunks await their vectors: "
                  "a first indexing run is still embedding, or was stopped; answers use exact references, "
                  "keywords and titles for them meanwhile. `regqa index` (or --repair) completes it",
                  repairable=found.can_embed, items=missing)
    elif found.missing_vectors and exists:
        missing = [c.chunk_id for c in found.missing_vectors]
        found.add("vectors_missing", "corrupt", f"{len(missing)} chunks have no vector in Chroma "
                  f"({_some(missing)}), so BM25 and dense search disagree; --repair re-embeds them",
                  repairable=found.can_embed, items=missing)
    if found.orphan_vectors:
        orphans = sorted(found.orphan_vectors)
        found.add("orphan_vectors", "leftover", f"{len(orphans)} vectors in Chroma belong to no "
                  f"committed chunk ({_some(orphans)}); --repair deletes them", repairable=True, items=orphans)


def _inspect_files(manifest: Manifest, found: _Findings) -> None:
    """Each document's file still exists and still has the content that was indexed."""
    for doc_id, entry in sorted(manifest.documents.items()):
        path = Path(entry.path)
        try:
            digest = _file_digest(path)
        except FileNotFoundError:
            found.add("missing_on_disk", "drift", f"{doc_id}: its file {path} is missing on disk; "
                      "restore it, or run `regqa index` to drop the document", items=[doc_id])
            continue
        except OSError as exc:
            found.add("unreadable_on_disk", "drift", f"{doc_id}: its file {path} cannot be read "
                      f"({_brief(exc)})", items=[doc_id])
            continue
        if digest != entry.sha256:
            found.add("changed_on_disk", "drift", f"{doc_id}: its file {path} changed on disk since it "
                      "was indexed; run `regqa index` to index the new version", items=[doc_id])


def _inspect_leftovers(store: IndexStore, manifest: Manifest, found: _Findings) -> None:
    """Uncommitted generations, temp files and never-indexed uploads of an interrupted run."""
    if store.generations.exists():
        found.stale_generations = sorted(p for p in store.generations.iterdir()
                                         if p.name != manifest.generation)
    for path in found.stale_generations:
        found.add("stale_generation", "leftover", f"generation {path.name!r} is not committed (left by "
                  "an interrupted or superseded run); --repair removes it", repairable=True, items=[path.name])
    temp = [store.manifest_path.with_suffix(".json.tmp"), *sorted(store.root.glob(".progress.json.*.tmp"))]
    uploads = store.root / "uploads"
    found.temp_files = [p for p in temp if p.exists()]
    if uploads.exists():
        found.temp_files += sorted(uploads.rglob(".*.part"))
    for path in found.temp_files:
        found.add("temp_file", "leftover", f"temporary file {path} was left by an interrupted run; "
                  "--repair removes it", repairable=True, items=[str(path)])
    indexed = {entry.path for entry in manifest.documents.values()}
    if uploads.exists():
        found.stray_uploads = sorted(p for p in uploads.rglob("*") if p.is_file() and str(p.resolve()) not in indexed
                                     and not p.name.endswith(".meta.yaml") and p not in found.temp_files)
    for path in found.stray_uploads:
        found.add("upload_not_indexed", "leftover", f"uploaded file {path} is in no committed document (its "
                  "upload was refused as busy, or interrupted); --repair removes it, upload it again to "
                  "index it", repairable=True, items=[str(path)])


# -- repair ------------------------------------------------------------------------------------

def _repair(settings: Settings, store: IndexStore, found: _Findings,
            embedder_factory: Callable[[], object] | None) -> list[str]:
    done: list[str] = []
    manifest = found.manifest
    if manifest is None:
        return done  # without a readable manifest nothing tells committed from leftover
    dense = DenseIndex.fresh(settings.chroma_server, store.chroma_dir)
    vectors = dense.store(manifest.collection, manifest.partitioned)
    for name in found.stale_collections:
        dense.drop(name)
        done.append(f"dropped the unused Chroma collection {name!r}")
    if found.orphan_vectors:
        vectors.delete(found.orphan_vectors)
        done.append(f"deleted {len(found.orphan_vectors)} orphan vectors")
    for path in found.stale_generations:
        shutil.rmtree(path, ignore_errors=True)
        done.append(f"removed the uncommitted generation {path.name!r}")
    for path in found.temp_files:
        path.unlink(missing_ok=True)
        done.append(f"removed the temporary file {path}")
    for path in found.stray_uploads:
        for file in (path, sidecar_path(path)):
            if file is not None:
                file.unlink(missing_ok=True)
        if path.parent != store.root / "uploads" and not any(path.parent.iterdir()):
            path.parent.rmdir()  # the upload's own folder, now empty
        done.append(f"removed the never-indexed upload {path}")
    if found.missing_vectors and found.can_embed:
        indexer = Indexer(settings, embedder_factory)
        summary = IndexSummary()
        # The indexer's own embedding path: cached vectors first, the model for the rest.
        indexer._embed_missing(vectors, manifest.embedding or embedding_identity(settings),
                               found.missing_vectors, summary, lambda *_: None)
        done.append(f"re-embedded {len(found.missing_vectors)} missing vectors "
                    f"({summary.chunks_from_cache} from the embedding cache, {summary.chunks_embedded} by the model)")
        if not manifest.dense_ready:  # a stopped warm start, now whole
            store.commit(manifest.model_copy(update={"dense_ready": True}))
    return done


# -- helpers -----------------------------------------------------------------------------------

def _some(ids: list[str]) -> str:
    shown = ", ".join(ids[:_SHOWN])
    return f"{shown}, ..." if len(ids) > _SHOWN else shown


def _brief(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__
