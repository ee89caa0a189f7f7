"""The CI gate: floors per metric, per question type and per kind of "no", zero errors, and no
question that passed in the committed baseline may fail.

`evals/gate.json` holds the floors; `evals/baselines/<dataset>.json` the ids of the questions
that passed when the baseline was last written (`regqa eval ... --write-baseline`). A question
that passed may only start failing in a commit that rewrites the baseline, with the reason in
the commit message.
"""

from __future__ import annotations

import json
from pathlib import Path

from evals.metrics import LOWER_IS_BETTER

GATE = Path(__file__).with_name("gate.json")
BASELINES = Path(__file__).with_name("baselines")


def load_gate(path: Path = GATE) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _missed(metric: str, value: float | None, limit: float) -> bool:
    if value is None:
        return False
    return value > limit if metric in LOWER_IS_BETTER else value < limit


def check(report: dict, gate: dict, baseline: dict | None = None) -> list[str]:
    """Every way the report misses the gate, as readable lines (empty: the gate holds)."""
    failures: list[str] = []
    for metric, limit in gate.get("metrics", {}).items():
        value = report["metrics"].get(metric)
        if _missed(metric, value, limit):
            failures.append(f"{metric}={value} (gate {limit})")
    for qtype, floors in gate.get("per_type", {}).items():
        values = report["per_type"].get(qtype)
        if values is None:
            failures.append(f"no {qtype} questions in the dataset (the gate expects some)")
            continue
        for metric, limit in floors.items():
            if _missed(metric, values.get(metric), limit):
                failures.append(f"{qtype}: {metric}={values.get(metric)} (gate {limit})")
    for kind, limit in gate.get("abstention_by_kind", {}).items():
        value = report.get("abstention_by_kind", {}).get(kind)
        if value is None or value < limit:
            failures.append(f"abstention on {kind} questions={value} (gate {limit})")
    if baseline is not None:
        now = {q["id"]: q["passed"] for q in report["questions"]}
        regressed = [qid for qid in baseline.get("passed", []) if qid in now and not now[qid]]
        if regressed:
            failures.append(f"{len(regressed)} question(s) passed in the baseline and fail now: "
                            f"{', '.join(regressed[:20])} (fix them, or rewrite the baseline with "
                            "--write-baseline in the same commit and say why)")
    return failures


def for_dataset(gate: dict, dataset: Path) -> dict:
    """The floors for one gold set: its own section of the gate (`datasets.<name>`), if any."""
    return gate.get("datasets", {}).get(dataset.stem, gate)


def baseline_path(dataset: Path) -> Path:
    return BASELINES / f"{dataset.stem}.json"


def baseline_record(report: dict) -> dict:
    return {"dataset": report["run"]["dataset"], "mode": report["run"]["mode"],
            "passed": sorted(q["id"] for q in report["questions"] if q["passed"]),
            "metrics": report["metrics"]}
