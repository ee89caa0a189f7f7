"""Vectors already computed, keyed by embedding identity and the SHA-256 of the embedded text.

Embedding is nearly all of the indexing cost, so a rebuild, a switch back to an earlier backend,
an edit that is undone, or the same passage in two documents must not pay for it twice. Chroma's
own ids name a chunk of one document (and a rebuild writes a new collection), so they cannot serve
as this cache. SQLite (stdlib, transactional) rather than LangChain's CacheBackedEmbeddings: that
needs the full `langchain` package and keeps one JSON file per vector in a byte store, i.e. tens of
thousands of small files at this corpus size.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vectors (
    identity TEXT NOT NULL,
    text_sha256 BLOB NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (identity, text_sha256)
) WITHOUT ROWID
"""


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def cached_vectors(path: Path, identity: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Read-only lookup for another process (the server's reader): the vectors of `texts` the
    cache holds, by text; nothing when there is no cache. SQLite in WAL mode lets readers in other
    processes read while the index writer writes, which embedded Chroma does not (see
    indexer/reader.py). A fresh connection per call: the reader runs on any request thread."""
    if not path.exists():
        return {}
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return _select(db, identity, texts, None)
    except sqlite3.Error:
        return {}  # e.g. a cache from before this schema: the caller falls back to Chroma
    finally:
        db.close()


def _select(db: sqlite3.Connection, identity: str, texts: Sequence[str],
            dimension: int | None) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    keys = {text_key(t): t for t in dict.fromkeys(texts)}
    items = list(keys)
    for i in range(0, len(items), 500):  # stay under SQLite's bound-parameter limit
        part = items[i : i + 500]
        rows = db.execute(
            f"SELECT text_sha256, vector FROM vectors WHERE identity = ? "
            f"AND text_sha256 IN ({','.join('?' * len(part))})",
            [identity, *part],
        )
        for key, blob in rows:
            vector = np.frombuffer(blob, dtype=np.float32)
            if dimension is None or vector.shape[0] == dimension:
                found[keys[key]] = vector
    return found


class EmbeddingCache:
    """One SQLite file beside the index; only the index writer (which holds the lock) writes."""

    def __init__(self, path: Path, identity: str, dimension: int | None = None) -> None:
        self.path = path
        self.identity = identity
        self.dimension = dimension
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path))
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._db.commit()

    def get_many(self, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among `texts`, by text."""
        return _select(self._db, self.identity, texts, self.dimension)

    def put_many(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO vectors (identity, text_sha256, vector) VALUES (?, ?, ?)",
            [(self.identity, text_key(t), np.asarray(v, dtype=np.float32).tobytes())
             for t, v in zip(texts, vectors)],
        )
        self._db.commit()

    def keep_only(self, texts: Iterable[str]) -> int:
        """Forget this identity's vectors of texts no longer indexed, so the file does not grow
        with every edit; other identities (backends) are kept for a switch back."""
        keep = {text_key(t) for t in texts}
        stale = [k for (k,) in self._db.execute(
            "SELECT text_sha256 FROM vectors WHERE identity = ?", [self.identity]) if k not in keep]
        self._db.executemany("DELETE FROM vectors WHERE identity = ? AND text_sha256 = ?",
                             [(self.identity, k) for k in stale])
        self._db.commit()
        return len(stale)

    def __len__(self) -> int:
        return int(self._db.execute(
            "SELECT COUNT(*) FROM vectors WHERE identity = ?", [self.identity]).fetchone()[0])

    def close(self) -> None:
        self._db.close()
