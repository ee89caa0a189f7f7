"""The benchmark package's own logic (evals/bench): the CLI, percentiles and ratios, the recall
matching rule for the LangChain baseline, and the memory model. No timing is asserted."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from evals.bench.__main__ import main
from evals.bench.baseline import UnitMap, recall_at
from evals.bench.common import ratio, summarize
from evals.bench.scale import hnsw_bytes


def test_help_lists_every_benchmark(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for word in ("index", "query", "load", "scale", "all", "--quick", "--out"):
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


def test_a_baseline_chunk_is_credited_with_the_units_it_overlaps() -> None:
    units = UnitMap({"/c/part-742.md": "15-cfr-part-742"},
                    {"15-cfr-part-742": [(100, 400, "§ 742.6"), (400, 900, "§ 742.7"), (900, 1500, "§ 742.8")]},
                    {"15-cfr-part-742": [100, 400, 900]})
    chunk = SimpleNamespace(page_content="x" * 1000, metadata={"source": "/c/part-742.md", "start_index": 350})
    # 350..1350 overlaps 742.6 by 50, 742.7 by 500, 742.8 by 450: the main unit comes first.
    assert units.units(chunk) == [("15-cfr-part-742", "§ 742.7"), ("15-cfr-part-742", "§ 742.8"),
                                  ("15-cfr-part-742", "§ 742.6")]
    elsewhere = SimpleNamespace(page_content="x", metadata={"source": "/c/other.md", "start_index": 0})
    assert units.units(elsewhere) == []
    hits = [units.units(chunk)]
    gold = [("15-cfr-part-742", "§ 742.8")]
    assert recall_at(gold, hits, 10) == 1.0  # any overlapped unit
    assert recall_at(gold, [h[:1] for h in hits], 10) == 0.0  # main unit only


def test_hnsw_memory_model_for_a_million_vectors() -> None:
    # 1M x 384 float32 = 1.536 GB of vectors; links, labels and upper levels add about 9 %.
    assert 1.65e9 < hnsw_bytes(1_000_000) < 1.70e9
