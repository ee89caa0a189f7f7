"""`python -m evals.bench {index,query,load,scale,start,all} [--quick] [--out DIR]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from evals.bench.common import DEFAULT_OUT, Variant, console

DESCRIPTION = """\
RegQA benchmarks (issue 6). Each one measures its baseline in the same run, prints the ratios,
and writes <name>.json and <name>.png to --out. The latest numbers are in evals/bench/RESULTS.md.

  index  index the bundled corpus from scratch: RegQA vs the raw encode of the same texts
         (the ceiling) vs the standard LangChain pipeline (splitter + HuggingFaceEmbeddings
         + Chroma.from_documents); chunks/s and wall time
  query  retrieval and extractive-answer latency p50/p95 over the dev questions, and
         recall@10, RegQA vs LangChain similarity_search + stuffing
  load   `regqa serve` on loopback under N concurrent clients for a fixed time against
         /v1/search and /v1/answer: requests/s, p50/p95/p99, errors, server RSS before/after
  scale  a `chroma run` server with 10k, 100k (and 1M if it fits the time budget) synthetic
         vectors: latency and recall unfiltered / one filter / two filters, for one collection
         with `where`, over-fetch-then-filter, and RegQA's partitioned layout (one collection
         per jurisdiction and doc_type), next to RegQA's exact in-memory search
  start  time to first answer from a fresh data folder and model cache: `regqa index` then
         `regqa serve` (before) vs `regqa serve --index` (the warm start); seconds to the
         first answer and to full hybrid quality, identical vectors, the token budget
  all    the five, in that order

Indexes are cached in evals/bench/.cache/ and reused by query and load (index rebuilds them).
Everything runs offline; timings on a shared machine are noisy (the JSON records the load)."""


def _runner(name: str) -> Callable[..., Any]:
    """Imported on demand: `--help` stays fast and one benchmark does not load the others."""
    from importlib import import_module

    return import_module(f"evals.bench.{name}").run


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m evals.bench", description=DESCRIPTION,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("benchmark", choices=("index", "query", "load", "scale", "start", "all"),
                   help="which benchmark to run")
    p.add_argument("--quick", action="store_true",
                   help="a smoke-check size: 8 documents of the corpus, 10 s load phases, "
                        "scale at 10k and 30k only")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT,
                   help="folder for the JSON and PNG files (default: evals/bench/results/)")
    p.add_argument("--clients", type=int, default=None, help="load: concurrent clients (default 8; quick 4)")
    p.add_argument("--duration", type=float, default=None,
                   help="load: seconds per endpoint (default 60; quick 10)")
    p.add_argument("--max-insert-minutes", type=float, default=25.0,
                   help="scale: run the 1M step only if its extrapolated insert time fits (default 25)")
    p.add_argument("--partitions-only", action="store_true",
                   help="scale: skip the single `where` collection (half the inserts; numpy exact "
                        "search is then the only baseline)")
    p.add_argument("--ef-search", type=int, default=None,
                   help="scale: HNSW ef_search of every collection (default: RegQA's, 200 for "
                        "partitions, Chroma's 100 for the single collection)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from regqa.config import apply_offline_environment

    apply_offline_environment()
    variant = Variant(quick=args.quick)
    names = ("index", "query", "load", "scale", "start") if args.benchmark == "all" else (args.benchmark,)
    options: dict[str, dict[str, Any]] = {
        "load": {"clients": args.clients, "duration": args.duration},
        "scale": {"max_insert_minutes": args.max_insert_minutes,
                  "partitions_only": args.partitions_only, "ef_search": args.ef_search},
    }
    for name in names:
        _runner(name)(variant, args.out, **options.get(name, {}))
    console.print(f"[green]done[/green]: {', '.join(names)} → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
