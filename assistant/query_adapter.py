"""A linear map on question vectors that moves exporters' wording towards the law's.

MiniLM was trained on web text: "can we ship the demo camera to a trade show under an
exception?" lands near passages that *sound* like questions (the Q&A paragraphs of § 770.3)
rather than near § 740.9's temporary-export rule. No model can be downloaded here, and
re-embedding the corpus with a fine-tuned encoder would void the shipped vectors; so only the
question side is adapted: `q' = normalise(q @ W)`, with W (384 × 384) learned on the dev set's
questions and their gold passages, pulled towards the identity (`python -m evals.tune
--adapter`, regularisation chosen by cross-validation). The corpus vectors stay as they are.

The matrix is valid only for the embedding model it was trained with: it names that model's
identity and is not applied to another's vectors.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

ADAPTER = Path(__file__).with_name("query_adapter.npz")
log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class QueryAdapter:
    matrix: np.ndarray  # (d, d), float32
    model: str  # identity of the embedding model the matrix was trained on (without the backend)
    regularisation: float = 0.0

    @cached_property
    def digest(self) -> str:
        """Names the matrix, for caches keyed by how a question was embedded."""
        return hashlib.sha256(np.ascontiguousarray(self.matrix, dtype=np.float32).tobytes()).hexdigest()[:16]

    def adapt(self, text: str, vector: np.ndarray) -> np.ndarray:  # noqa: ARG002 - one map for every text
        """The retriever's entry point; tuning substitutes a per-question map (cross-fitting)."""
        return self(vector)

    def __call__(self, vector: np.ndarray) -> np.ndarray:
        adapted = np.asarray(vector, dtype=np.float32) @ self.matrix
        norm = float(np.linalg.norm(adapted))
        return (adapted / norm).astype(np.float32) if norm > 0 else np.asarray(vector, dtype=np.float32)

    def fits(self, identity: str | None, dimension: int | None = None) -> bool:
        """True for vectors of the model it was trained on (any backend: torch, ONNX, int8)."""
        same_model = bool(identity) and (identity == self.model or identity.startswith(self.model + ":"))
        return same_model and (dimension is None or dimension == self.matrix.shape[0])

    def save(self, path: Path = ADAPTER) -> None:
        # float16 halves the file; the rounding (< 1e-3 relative) moves no ranking measurably.
        np.savez_compressed(path, matrix=self.matrix.astype(np.float16), model=np.array(self.model),
                            regularisation=np.array(self.regularisation))

    @classmethod
    def load(cls, path: Path = ADAPTER) -> QueryAdapter | None:
        if not path.exists():
            return None
        with np.load(path) as data:
            return cls(data["matrix"].astype(np.float32), str(data["model"]), float(data["regularisation"]))

    @classmethod
    def for_embedder(cls, identity: str | None, path: Path = ADAPTER) -> QueryAdapter | None:
        """The stored adapter when it was trained for this embedder's model, else None (logged)."""
        adapter = cls.load(path)
        if adapter is not None and not adapter.fits(identity):
            if identity:  # a test's stand-in embedder has no identity: nothing worth a warning
                log.warning("query adapter %s was trained for %s, not %s: questions are embedded "
                            "without it (retrain: python -m evals.tune --adapter --write)",
                            path.name, adapter.model, identity)
            return None
        return adapter
