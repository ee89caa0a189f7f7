"""An answer must not depend on the process's hash seed: a set of words is iterated in an order
that changes with PYTHONHASHSEED, and a float sum changes with its order in the last bits, enough
to flip a tie between two sentences (the eval once gave a different answer one run in seven)."""

from __future__ import annotations

import os
import subprocess
import sys

SCRIPT = r"""
from assistant.extractive import QuoteContext, sentence_candidates
from assistant.retrieval import Passage
from indexer.records import Chunk

text = ("Exporters of monitoring centres and interception gateways shall keep records for five years. "
        "Records of interception gateways and monitoring centres shall be kept by exporters.")
chunk = Chunk(chunk_id="c1", doc_id="doc", ordinal=1, cite_as="Test Act", title="Test Act", section="Article 1",
              heading_path="Article 1", context="", text=text, start=0, end=len(text), token_count=30,
              jurisdiction="EU", doc_type="regulation", as_of="2025-01-01", source_url="",
              completeness="complete", unit="Article 1")
passage = Passage([chunk], score=1.0, dense=0.5, exact=False, chunk_scores={"c1": 1.0})
weights = lambda terms: {t: 0.1 + 0.7 ** i + 1e-3 * i for i, t in enumerate(terms)}
context = QuoteContext.of("How long must exporters keep records of monitoring centres and interception gateways?",
                          weights)
print([q.features["overlap"].hex() for q in sentence_candidates(passage, context)])
"""


def _features(seed: int) -> str:
    env = {**os.environ, "PYTHONHASHSEED": str(seed)}
    return subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True,
                          check=True).stdout


def test_sentence_features_do_not_depend_on_the_hash_seed() -> None:
    outputs = {_features(seed) for seed in range(8)}
    assert len(outputs) == 1, outputs
