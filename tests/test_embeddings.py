"""The embedding backends: the ONNX export must embed like the sentence-transformers reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from indexer.embeddings import (
    OnnxEmbedder,
    SentenceTransformerEmbedder,
    embedding_identity,
    load_embedder,
    model_identity,
)
from indexer.onnx_export import exported_model
from indexer.reader import IndexMissing, IndexReader
from regqa.config import Settings

from .conftest import CORPUS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def passages() -> list[str]:
    """Real corpus text of every length, from a heading to a full 256-piece window."""
    text = (CORPUS / "us-ear" / "15-cfr-part-742.md").read_text(encoding="utf-8")
    paragraphs = [p.strip() for p in text.split("\n\n") if len(p.strip()) > 20]
    return paragraphs[:40] + [" ".join(paragraphs[40:60])]  # the last one is cut at 256 pieces


@pytest.fixture(scope="module")
def reference(base_settings: Settings, passages: list[str]) -> np.ndarray:
    return SentenceTransformerEmbedder(base_settings.model_path).encode(passages)


@pytest.mark.parametrize(("variant", "worst", "mean"), [("onnx", 0.9999, 0.9999), ("onnx-int8", 0.95, 0.98)])
def test_onnx_vectors_match_the_reference(base_settings: Settings, passages: list[str],
                                          reference: np.ndarray, variant: str, worst: float,
                                          mean: float) -> None:
    embedder = OnnxEmbedder(base_settings.model_path, base_settings.models_dir, variant)
    vectors = embedder.encode(passages)
    assert vectors.shape == reference.shape == (len(passages), 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    cosine = (vectors * reference).sum(axis=1)
    assert cosine.min() >= worst and cosine.mean() >= mean, (cosine.min(), cosine.mean())
    # Order in, order out: encoding sorts by length internally and must put rows back. (int8
    # quantises activations per batch, so a text's vector moves slightly with its companions.)
    single = np.vstack([embedder.encode([p]) for p in passages])
    agreement = (single * vectors).sum(axis=1)
    assert agreement.min() >= (0.9999 if variant == "onnx" else 0.97), agreement.min()
    assert np.array_equal(embedder.encode([passages[3]]), embedder.encode([passages[3]]))
    # Its own identity, so its vectors are never mixed with another backend's in one index.
    assert embedder.identity == f"{model_identity(base_settings.model_path)}:{variant}-v1"
    assert embedding_identity(base_settings.model_copy(update={"embedding_backend": variant})) == \
        embedder.identity


def test_the_export_is_made_once_and_reused(base_settings: Settings, tmp_path: Path) -> None:
    first = exported_model(base_settings.model_path, tmp_path, "onnx-int8")
    stamp = first.stat().st_mtime_ns
    again = exported_model(base_settings.model_path, tmp_path, "onnx-int8")
    assert again == first and again.stat().st_mtime_ns == stamp
    # Nothing half-written is left beside it.
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == [first.name]


def test_an_index_built_by_another_backend_is_refused(settings: Settings, small_corpus: Path,
                                                      embedder) -> None:  # noqa: ANN001
    from indexer.pipeline import Indexer

    Indexer(settings, embedder_factory=lambda: embedder).run()
    assert IndexReader(settings, embedding=embedder.identity).snapshot().chunks
    torch_settings = settings.model_copy(update={"embedding_backend": "torch"})
    with pytest.raises(IndexMissing, match="regqa index"):
        IndexReader(settings, embedding=embedding_identity(torch_settings)).snapshot()
    assert load_embedder(settings).identity == embedder.identity


def test_a_question_embeds_the_same_whatever_was_asked_before(raw_embedder) -> None:  # noqa: ANN001
    """Sub-queries are embedded one by one, so a warm server and a fresh one rank alike. (The raw
    model, not the suite's memo: the memo would make any two calls agree.)"""
    embedder = raw_embedder
    from assistant.retrieval import QueryEmbedder

    texts = ["facial recognition cameras", "licence requirements for China",
             "Internet Protocol network communications surveillance systems or equipment"]
    warm = QueryEmbedder(embedder)
    warm.many(texts[:2])
    fresh = QueryEmbedder(embedder)
    assert np.array_equal(warm.many(texts), fresh.many(list(reversed(texts)))[::-1])
    assert np.array_equal(fresh(texts[1]), np.asarray(embedder.encode([texts[1]])[0], dtype=np.float32))
