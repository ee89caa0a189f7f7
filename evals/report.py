"""report.json, report.md and a chart of metrics per question type."""

from __future__ import annotations

import json
import math
import platform
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from evals.metrics import (
    LOWER_IS_BETTER,
    METRIC_KEYS,
    QuestionScore,
    abstention_by_kind,
    aggregate,
    stage_latencies,
)


def _number(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def build_report(scores: Sequence[QuestionScore], *, dataset: str, mode: str, backend: str,
                 seconds: float, baseline: dict | None = None) -> dict:
    overall = aggregate(scores)
    types = sorted({s.type for s in scores})
    report = {
        "metrics": {k: (_number(overall[k]) if _number(overall[k]) is not None else 0.0) for k in METRIC_KEYS},
        "per_type": {t: {k: _number(v) for k, v in aggregate([s for s in scores if s.type == t]).items()}
                     for t in types},
        "abstention_by_kind": abstention_by_kind(scores),
        "stage_latency_ms": stage_latencies(scores),
        "questions": [s.model_dump() for s in scores],
        "run": {
            "dataset": dataset, "mode": mode, "backend": backend, "questions": len(scores),
            "errors": sum(1 for s in scores if s.error), "seconds": round(seconds, 2),
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.machine()} {platform.system()}, python {platform.python_version()}",
        },
    }
    if baseline:
        report["baseline_delta"] = {
            k: round(report["metrics"][k] - baseline["metrics"][k], 4)
            for k in METRIC_KEYS if k in baseline.get("metrics", {})
        }
    return report


def write_reports(report: dict, out: Path) -> dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "markdown": out / "report.md", "chart": out / "metrics_by_type.png"}
    paths["json"].write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    paths["markdown"].write_text(markdown(report), encoding="utf-8")
    chart(report, paths["chart"])
    return paths


def _fmt(value: float | None) -> str:
    return "—" if value is None else (f"{value:.1f}" if value > 1.5 else f"{value:.3f}")


def markdown(report: dict) -> str:
    run = report["run"]
    lines = [f"# RegQA evaluation — {run['dataset']} ({run['mode']})", "",
             f"{run['questions']} questions, {run['errors']} errors, {run['seconds']} s, {run['backend']}, "
             f"{run['machine']}, {run['at']}.", "", "## Metrics", "", "| metric | value | Δ baseline |", "|---|---:|---:|"]
    delta = report.get("baseline_delta", {})
    for key, value in report["metrics"].items():
        lines.append(f"| {key} | {_fmt(value)} | {delta.get(key, '') if key in delta else ''} |")
    types = list(report["per_type"])
    lines += ["", "## Per question type", "", "| metric | " + " | ".join(types) + " |",
              "|---|" + "---:|" * len(types)]
    for key in METRIC_KEYS:
        lines.append(f"| {key} | " + " | ".join(_fmt(report["per_type"][t][key]) for t in types) + " |")
    lines += ["", "## Stage latency (ms)", "", "| stage | p50 | p95 |", "|---|---:|---:|"]
    for stage, v in report["stage_latency_ms"].items():
        lines.append(f"| {stage} | {v['p50']} | {v['p95']} |")
    lines += ["", "## Questions", "",
              "| id | type | abstained | R@10 | cit. P | cit. R | support | must-mention | ms |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for q in report["questions"]:
        support = f"{q['supported_sentences']}/{q['sentences']}" if q["sentences"] else "—"
        flag = ("yes" if q["abstained"] else "no") + ("" if q["abstention_correct"] else " ✗")
        lines.append(f"| {q['id']} | {q['type']} | {flag} | {_fmt(q['retrieval_recall_at_10'])} | "
                     f"{_fmt(q['citation_precision'])} | {_fmt(q['citation_recall'])} | {support} | "
                     f"{_fmt(q['must_mention_coverage'])} | {q['latency_ms']:.0f} |")
    lines += ["", "## Worst failures", ""]
    for q in worst(report["questions"]):
        lines += [f"### {q['id']} ({q['type']}): {q['question']}", "",
                  f"- gold: {', '.join(q['gold']) or '(unanswerable)'}",
                  f"- cited: {', '.join(q['predicted']) or '(none)'}",
                  f"- abstained: {q['abstained']} (correct: {q['abstention_correct']})"]
        if q["error"]:
            lines.append(f"- error: {q['error']}")
        for sentence in q["unsupported"][:3]:
            lines.append(f"- unsupported: {sentence[:200]}")
        lines.append("")
    return "\n".join(lines) + "\n"


def worst(questions: list[dict], n: int = 10) -> list[dict]:
    def badness(q: dict) -> float:
        score = 0.0 if q["abstention_correct"] else 2.0
        score += 1.0 - (q["citation_recall"] if q["citation_recall"] is not None else 1.0)
        score += 1.0 - (q["retrieval_recall_at_10"] if q["retrieval_recall_at_10"] is not None else 1.0)
        score += 3.0 if q["error"] else 0.0
        score += 3.0 * (q["quotes"] - q["valid_quotes"])
        score += 1.0 - (q["citation_precision"] if q["citation_precision"] is not None else 1.0)
        return score

    return [q for q in sorted(questions, key=badness, reverse=True)[:n] if badness(q) > 0]


def chart(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in report["metrics"] if k not in LOWER_IS_BETTER and report["metrics"][k] <= 1.0]
    types = list(report["per_type"])
    fig, ax = plt.subplots(figsize=(12, 5))
    width = 0.8 / max(1, len(types))
    for i, t in enumerate(types):
        values = [report["per_type"][t][k] or 0.0 for k in keys]
        ax.bar([x + i * width for x in range(len(keys))], values, width, label=t)
    ax.set_xticks([x + width * (len(types) - 1) / 2 for x in range(len(keys))])
    ax.set_xticklabels([k.replace("_", " ") for k in keys], rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score (higher is better)")
    ax.set_title(f"RegQA eval by question type — {report['run']['dataset']} ({report['run']['mode']})")
    ax.legend(fontsize=7, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
