"""Benchmarks of issue 6: indexing, query latency, served load and index scale.

Run `python -m evals.bench --help`. Each benchmark measures its baseline in the same run,
prints ratios against it, and writes `<name>.json` and `<name>.png` to the output folder.
They are measurements, not tests: nothing here asserts a speed.
"""
