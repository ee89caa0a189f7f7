"""Vectors shipped with the project for the bundled corpus's chunks.

Embedding the bundled corpus is about nine CPU-minutes on a two-core machine, and it was most of a
user's first start (and of the test suite). The vectors are a pure function of the chunk text and
the embedding identity, so they are computed once by a maintainer and shipped: the indexer takes a
text's vector from here when the identity matches and the text's SHA-256 is listed, and embeds
anything else (uploads, edits, another backend) as before. A stale file is therefore never wrong,
only slower; `tests/test_bundled_vectors.py` fails when it no longer covers the bundled corpus.

Stored as float16 (half the size; cosine to the float32 vector > 0.99999, far inside the spread
between backends). Refresh after a corpus or chunker change:

    python -m indexer.bundled_vectors            # from an up-to-date index, embedding what it lacks
"""

from __future__ import annotations

import argparse
import logging
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from indexer.embedding_cache import cached_vectors, text_key

log = logging.getLogger(__name__)

BUNDLED_VECTORS = Path(__file__).resolve().parent / "data" / "bundled-vectors.npz"


class BundledVectors:
    """A read-only lookup: text → vector, for one embedding identity."""

    def __init__(self, identity: str, keys: np.ndarray, vectors: np.ndarray) -> None:
        self.identity = identity
        self._rows = {bytes(k): i for i, k in enumerate(keys)}
        self._vectors = vectors

    @classmethod
    def load(cls, identity: str, path: Path = BUNDLED_VECTORS) -> BundledVectors | None:
        """The shipped vectors if they were made with `identity`; None otherwise (or no file)."""
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                if str(data["identity"]) != identity:
                    return None
                keys, vectors = data["keys"], data["vectors"]
        except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            # Damaged or not ours: embed instead, and say why (a vector is never guessed).
            log.warning("ignoring the shipped vectors %s (%s: %s); embedding instead", path, type(exc).__name__, exc)
            return None
        if keys.ndim != 2 or keys.shape[1] != 32 or len(keys) != len(vectors):
            log.warning("ignoring the shipped vectors %s: keys and vectors do not match", path)
            return None
        return cls(identity, keys, vectors)

    @classmethod
    def empty(cls, identity: str) -> BundledVectors:
        return cls(identity, np.zeros((0, 32), dtype=np.uint8), np.zeros((0, 0), dtype=np.float16))

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, text: str) -> bool:
        return text_key(text) in self._rows

    def get_many(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        for text in dict.fromkeys(texts):
            row = self._rows.get(text_key(text))
            if row is not None:
                found[text] = self._vectors[row].astype(np.float32)
        return found


def write(path: Path, identity: str, texts: Sequence[str], vectors: np.ndarray) -> None:
    """Write the file; rows sorted by key, so the same vectors always give the same bytes."""
    keys = np.frombuffer(b"".join(text_key(t) for t in texts), dtype=np.uint8).reshape(-1, 32)
    order = np.lexsort(keys.T[::-1])
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, identity=np.array(identity), keys=keys[order],
                        vectors=np.asarray(vectors, dtype=np.float16)[order])


def committed_texts(index_dir: Path) -> list[str]:
    """The distinct texts embedded for the committed generation of the index in `index_dir`."""
    from indexer.store import IndexStore

    store = IndexStore(index_dir)
    return sorted({c.embed_text for c in store.read_chunks(store.read_manifest().generation)})


def refresh(data_dir: Path | None = None, out: Path = BUNDLED_VECTORS) -> tuple[int, int]:
    """Index the bundled corpus (reusing `data_dir`'s work), then write the vector of every
    distinct chunk text: from the index's embedding cache, else embedded now. Returns
    (texts written, texts embedded now)."""
    from indexer.embeddings import embedding_identity, load_embedder
    from indexer.pipeline import Indexer
    from regqa.config import Settings

    overrides: dict = {"bundled_vectors": False}  # measure the model, not the old file
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    settings = Settings(**overrides)
    indexer = Indexer(settings)
    indexer.run(progress=_print_progress)
    identity = embedding_identity(settings)
    texts = committed_texts(settings.index_dir)
    cached = cached_vectors(indexer.store.embedding_cache_path, identity, texts)
    missing = [t for t in texts if t not in cached]
    if missing:
        cached.update(zip(missing, load_embedder(settings).encode(missing)))
    write(out, identity, texts, np.vstack([cached[t] for t in texts]))
    return len(texts), len(missing)


def _print_progress(stage: str, done: int, total: int) -> None:
    if total:
        print(f"\r{stage}: {done}/{total}", end="" if done < total else "\n", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m indexer.bundled_vectors",
        description="Rewrite the vectors shipped for the bundled corpus (indexer/data/bundled-vectors.npz). "
        "Run after the corpus, the chunker or the embedding model changes; the test suite says when.",
    )
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="index to build on and reuse (default: REGQA_DATA_DIR or the project's data dir)")
    parser.add_argument("--out", type=Path, default=BUNDLED_VECTORS, help="file to write (default: %(default)s)")
    args = parser.parse_args(argv)
    written, embedded = refresh(args.data_dir, args.out)
    size = args.out.stat().st_size / 1e6
    print(f"wrote {written} vectors ({embedded} embedded now) to {args.out} ({size:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
