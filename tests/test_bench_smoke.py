"""The benchmark package's own logic (evals/bench): the CLI, percentiles and ratios, the recall
and MRR rule for the LangChain baseline (character overlap with the gold evidence, the eval
harness's rule), and the memory model. No timing is asserted."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

from evals.bench.__main__ import main
from evals.bench.baseline import CHUNK_OVERLAP, CHUNK_SIZE, chunk_range, recall_at, reciprocal_rank
from evals.bench.common import ratio, summarize
from evals.bench.scale import hnsw_bytes
from evals.dataset import EvalQuestion
from evals.gold import SourceTexts, gold_spans


def test_help_lists_every_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for word in ("index", "query", "load", "scale", "start", "all", "--quick", "--out"):
        assert word in text


def test_unknown_benchmark_is_a_usage_error() -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["speed"])
    assert exit_info.value.code == 2


def test_percentiles_and_ratios() -> None:
    stats = summarize([float(v) for v in range(1, 101)])
    assert stats["n"] == 100 and stats["p50"] == 50.5 and stats["p95"] == 95.05 and stats["max"] == 100
    assert math.isnan(summarize([])["p95"])
    assert ratio(30.0, 10.0) == 3.0
    assert math.isnan(ratio(1.0, 0.0)) and math.isnan(ratio(float("nan"), 2.0))


EVIDENCE = "a license is required to export crime control and detection equipment"
SECOND = "applications will generally be considered favorably on a case-by-case basis"


def _corpus(tmp_path: Path) -> tuple[SourceTexts, Path, list]:
    """A two-document corpus and a two-item gold question located in it, as the harness does."""
    part = tmp_path / "us-ear" / "15-cfr-part-742.md"
    part.parent.mkdir()
    part.write_text("# Part 742\n\n" + "Filler text. " * 40 + EVIDENCE + ". " + "More filler. " * 40
                    + SECOND + ".\n", encoding="utf-8")
    (tmp_path / "us-ear" / "15-cfr-part-744.md").write_text(part.read_text(encoding="utf-8"), encoding="utf-8")
    question = EvalQuestion(id="t1", question="Why a licence?", answerable=True, type="licence", gold=[
        {"doc": "15-cfr-part-742", "section": "§ 742.7(a)", "evidence": EVIDENCE},
        {"doc": "15-cfr-part-742", "section": "§ 742.7(b)", "evidence": SECOND}])
    sources = SourceTexts(tmp_path)
    return sources, part, gold_spans(question, sources)


def _chunk(path: Path, start: int, end: int) -> Document:
    text = path.read_text(encoding="utf-8")
    return Document(page_content=text[start:end], metadata={"source": str(path), "start_index": start})


def test_a_baseline_chunk_counts_where_it_overlaps_the_gold_evidence(tmp_path: Path) -> None:
    sources, part, spans = _corpus(tmp_path)
    first, second = spans
    # A long chunk holding the first evidence (and far more) counts for it, not for the second.
    long = chunk_range(_chunk(part, first.start - 400, first.end + 300))
    # Chunks next to the evidence, ending where it starts or starting where it ends, do not.
    before = chunk_range(_chunk(part, first.start - 900, first.start))
    after = chunk_range(_chunk(part, first.end, second.start))
    # The same characters in another document do not.
    elsewhere = chunk_range(_chunk(part.with_name("15-cfr-part-744.md"), first.start, first.end))
    # A chunk sharing one character with the second evidence counts for it.
    edge = chunk_range(_chunk(part, second.end - 1, second.end + 1))
    assert long == ("15-cfr-part-742", first.start - 400, first.end + 300)

    ranked = [before, after, elsewhere, long, edge]
    assert recall_at(spans, ranked, 3) == 0.0
    assert recall_at(spans, ranked, 4) == 0.5
    assert recall_at(spans, ranked, 10) == 1.0
    assert reciprocal_rank(spans, ranked) == 0.25
    assert reciprocal_rank(spans, [before, after, elsewhere]) == 0.0
    assert reciprocal_rank(spans, [edge]) == 1.0
    # A chunk the splitter could not place (start_index -1) never counts.
    lost = Document(page_content=EVIDENCE, metadata={"source": str(part), "start_index": -1})
    assert reciprocal_rank(spans, [chunk_range(lost)]) == 0.0


def test_the_splitters_offsets_are_offsets_in_the_gold_text(tmp_path: Path) -> None:
    """The baseline's own chunks, split as it splits, stand where the harness reads the file."""
    sources, part, spans = _corpus(tmp_path)
    text = part.read_text(encoding="utf-8")
    splitter = RecursiveCharacterTextSplitter(chunk_size=CHUNK_SIZE, chunk_overlap=CHUNK_OVERLAP,
                                              add_start_index=True)
    chunks = splitter.split_documents([Document(page_content=text, metadata={"source": str(part)})])
    assert len(chunks) > 1
    for chunk in chunks:
        doc, start, end = chunk_range(chunk)
        assert sources.text(doc)[start:end] == chunk.page_content
    ranked = [chunk_range(c) for c in chunks]
    assert recall_at(spans, ranked, len(ranked)) == 1.0
    assert recall_at(spans, ranked[:1], 1) == 0.0  # the first chunk is the heading alone


def test_hnsw_memory_model_for_a_million_vectors() -> None:
    # 1M x 384 float32 = 1.536 GB of vectors; links, labels and upper levels add about 9 %.
    assert 1.65e9 < hnsw_bytes(1_000_000) < 1.70e9
