"""The extractive composer picks, within a cited unit, the sentence that answers: a rare word of
the question (by the index's idf) counts for more than a common one."""

from __future__ import annotations

import pytest

from assistant.extractive import compose
from assistant.retrieval import Passage
from indexer.records import Chunk
from indexer.sparse import SparseIndex

TEXT = ("Software for export control is described in this Article in full. "
        "A handover interface is covered by this Article as well.")
# A small index in which "software" and "export" are everywhere and "handover" occurs once.
CORPUS = [TEXT] + [f"Software for the export of items, number {i}, is controlled as software." for i in range(40)]


def _passage(n: int, text: str) -> Passage:
    chunk = Chunk(chunk_id=f"c{n}", doc_id="doc", ordinal=n, cite_as="Test Act", title="Test Act",
                  section=f"Article {n}", heading_path=f"Article {n}", context="", text=text, start=0,
                  end=len(text), token_count=40, jurisdiction="EU", doc_type="regulation", as_of="2025-01-01",
                  source_url="", completeness="complete", unit=f"Article {n}")
    return Passage([chunk], score=1.0, dense=0.5, exact=False, chunk_scores={chunk.chunk_id: 1.0})


@pytest.fixture(scope="module")
def index() -> SparseIndex:
    return SparseIndex.build([f"c{i}" for i in range(len(CORPUS))], CORPUS)


def test_idf_follows_the_index_and_its_stemming(index: SparseIndex) -> None:
    weights = index.idf(["software", "handover", "interfaces", "zebra"])
    assert weights["handover"] > weights["software"] > 0
    assert weights["interfaces"] == index.idf(["interface"])["interface"]  # one stem
    assert weights["zebra"] == 0.0  # not in the index: tells no sentence apart


def test_the_rare_word_of_the_question_chooses_the_sentence(index: SparseIndex) -> None:
    # The second unit cited gets one quote (the first gets two): which sentence of it?
    passages = [_passage(1, "Nothing in this Article applies to items other than goods."), _passage(2, TEXT)]
    question = "Does the export control of software cover a handover interface?"
    # Counted word for word, the opening sentence shares more ("software", "export", "control").
    plain = compose(question, passages)
    weighted = compose(question, passages, weights=index.idf)
    assert plain.citations[-1].quote.startswith("Software for export control")
    assert weighted.citations[-1].quote.startswith("A handover interface")
