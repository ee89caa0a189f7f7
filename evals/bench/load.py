"""Benchmark 3 — served load: `regqa serve` as a real process on a loopback port, a fixed number
of concurrent clients (httpx + asyncio) for a fixed time per endpoint.

Each request carries a dev question with a unique suffix (" (variant N)"), so the server's
query-embedding cache cannot turn the test into cache hits after the first 79 requests; the
suffix names no legal reference. The clients run on the same two cores as the server, so the
requests/s is a floor for a server with the machine to itself."""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from evals.bench.common import (
    DEV_SET,
    Stopwatch,
    Variant,
    console,
    embedding_backend,
    ensure_index,
    figure,
    free_port,
    load_average,
    machine,
    mib,
    print_ratio,
    print_table,
    progress_bar,
    ratio,
    rss_bytes,
    running,
    save_figure,
    summarize,
    target,
    write_json,
)
from evals.dataset import load_dataset

RSS_LIMIT_BYTES = int(1.5 * 2**30)
RSS_GROWTH_TOLERANCE = 0.10  # "no growth": allocator arenas settle; more than this is a leak suspect
SAMPLE_EVERY_S = 0.5

Body = Callable[[int], dict[str, Any]]


def run(variant: Variant, out_dir: Path, clients: int | None = None,
        duration: float | None = None) -> dict[str, Any]:
    clients = clients or (4 if variant.quick else 8)
    duration = duration or (10.0 if variant.quick else 60.0)
    settings = variant.settings()
    ensure_index(settings)
    questions = [q.question for q in load_dataset(DEV_SET)]
    endpoints: dict[str, Body] = {
        "/v1/search": lambda n: {"query": _unique(questions, n), "top_k": 10},
        "/v1/answer": lambda n: {"question": _unique(questions, n), "mode": "extractive"},
    }
    result: dict[str, Any] = {"benchmark": "load", "variant": variant.name, "machine": machine(),
                              "embedding_backend": embedding_backend(settings), "clients": clients,
                              "duration_s_per_endpoint": duration, "phases": {}}
    console.rule(f"[bold]load[/bold] — {clients} clients × {duration:.0f} s per endpoint")

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items()
           if k not in ("REGQA_API_KEYS", "REGQA_CHROMA_URL", "REGQA_LLM_BASE_URL")}
    env.update({"REGQA_DATA_DIR": str(settings.index_dir), "REGQA_CORPUS_DIR": str(settings.default_corpus),
                "REGQA_PORT": str(port), "REGQA_HOST": "127.0.0.1"})
    command = [str(Path(sys.executable).with_name("regqa")), "serve"]
    log = variant.cache / "serve.log"
    with Stopwatch() as startup, running(command, f"{url}/readyz", log, env) as server:
        # Start-up ends when /readyz first answers: model and index loaded.
        result["startup_s"] = round(time.perf_counter() - startup.started, 2)
        result["rss_mib_idle"] = mib(rss_bytes(server.pid))
        _warm_up(url, endpoints, len(questions))
        before = rss_bytes(server.pid)
        for path, body in endpoints.items():
            result["phases"][path] = asyncio.run(_phase(url, path, body, clients, duration, server.pid))
        after = rss_bytes(server.pid)
        time.sleep(2)
        settled = rss_bytes(server.pid)
    result.update({"rss_mib_before": mib(before), "rss_mib_after": mib(after),
                   "rss_mib_after_2s": mib(settled),
                   "rss_mib_peak": max(p["rss_mib_peak"] for p in result["phases"].values()),
                   "load_average_1m_at_end": load_average()})
    _report(result)
    write_json(out_dir, "load", result)
    _plot(result, out_dir)
    return result


def _unique(questions: list[str], n: int) -> str:
    return f"{questions[n % len(questions)]} (variant {n})"


def _warm_up(url: str, endpoints: dict[str, Body], questions: int) -> None:
    """One sequential pass over the questions per endpoint: lazy loading and the model
    runtime's first-call set-up per input length are start-up, not load."""
    with httpx.Client(base_url=url, timeout=120) as client, progress_bar() as bar:
        for path, body in endpoints.items():
            task = bar.add_task(f"warm-up {path} (untimed)", total=questions)
            for n in range(questions):
                client.post(path, json=body(10_000_000 + n)).raise_for_status()
                bar.advance(task)


async def _phase(url: str, path: str, body: Body, clients: int, duration: float, pid: int) -> dict[str, Any]:
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    rss: list[int] = []
    numbers = itertools.count()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + duration
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client_loop(client: httpx.AsyncClient) -> None:
        while loop.time() < deadline:
            started = time.perf_counter()
            try:
                response = await client.post(path, json=body(next(numbers)))
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
                continue
            if response.status_code == 200:
                latencies.append((time.perf_counter() - started) * 1000)
            else:
                errors[f"HTTP {response.status_code}"] += 1

    async def sample_rss() -> None:
        while loop.time() < deadline:
            rss.append(rss_bytes(pid))
            await asyncio.sleep(SAMPLE_EVERY_S)

    with console.status(f"{path}: {clients} clients for {duration:.0f} s"):
        async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
            started = time.perf_counter()
            await asyncio.gather(*(client_loop(client) for _ in range(clients)), sample_rss())
            elapsed = time.perf_counter() - started
    return {"requests_ok": len(latencies), "errors": sum(errors.values()), "error_kinds": dict(errors),
            "elapsed_s": round(elapsed, 2), "requests_per_s": round(len(latencies) / elapsed, 2),
            "latency_ms": summarize(latencies), "rss_mib_peak": mib(max(rss, default=0)),
            "rss_mib_samples": [mib(v) for v in rss]}


def _report(r: dict[str, Any]) -> None:
    rows = [(path, p["requests_ok"], p["errors"], p["requests_per_s"], p["latency_ms"]["p50"],
             p["latency_ms"]["p95"], p["latency_ms"]["p99"], p["rss_mib_peak"])
            for path, p in r["phases"].items()]
    print_table(f"Load, {r['clients']} concurrent clients, {r['duration_s_per_endpoint']:.0f} s per endpoint",
                ["endpoint", "ok", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms", "peak RSS MiB"], rows)
    print_table("Server RSS (MiB)", ["idle", "after warm-up", "after load", "2 s later", "peak"],
                [(r["rss_mib_idle"], r["rss_mib_before"], r["rss_mib_after"], r["rss_mib_after_2s"],
                  r["rss_mib_peak"])])
    growth = ratio(r["rss_mib_after_2s"], r["rss_mib_before"])
    r["ratios"] = {"rss_after_over_before": growth}
    print_ratio("RSS after load / before load", growth, "1.00 = no growth")
    errors = sum(p["errors"] for p in r["phases"].values())
    r["targets"] = [
        target("zero errors under load", errors == 0, f"{errors} errors"),
        target("serving RSS < 1.5 GB", r["rss_mib_peak"] * 2**20 < RSS_LIMIT_BYTES,
               f"peak {r['rss_mib_peak']:.0f} MiB"),
        target(f"no RSS growth (≤ {RSS_GROWTH_TOLERANCE:.0%})", growth <= 1 + RSS_GROWTH_TOLERANCE,
               f"{r['rss_mib_before']:.0f} → {r['rss_mib_after_2s']:.0f} MiB"),
    ]


def _plot(r: dict[str, Any], out_dir: Path) -> None:
    fig, (left, right) = figure(2, width=5.5)
    paths = list(r["phases"])
    for i, path in enumerate(paths):
        lat = r["phases"][path]["latency_ms"]
        left.bar([i - 0.25, i, i + 0.25], [lat["p50"], lat["p95"], lat["p99"]], 0.25,
                 color=["#9ecae1", "#3182bd", "#08519c"], label=["p50", "p95", "p99"] if i == 0 else None)
        left.annotate(f"{r['phases'][path]['requests_per_s']:.1f} req/s", (i, lat["p99"]), ha="center",
                      va="bottom", fontsize=9)
    left.set_ylim(0, left.get_ylim()[1] * 1.15)
    left.set_xticks(range(len(paths)), paths)
    left.set_ylabel("latency, ms")
    left.set_title(f"{r['clients']} concurrent clients, {r['duration_s_per_endpoint']:.0f} s each")
    left.legend(fontsize=8)
    offset = 0.0
    for path in paths:
        samples = r["phases"][path]["rss_mib_samples"]
        times = [offset + i * SAMPLE_EVERY_S for i in range(len(samples))]
        right.plot(times, samples, label=path)
        offset = times[-1] + SAMPLE_EVERY_S if times else offset
    right.axhline(r["rss_mib_before"], color="grey", linestyle=":", linewidth=1, label="before load")
    right.set_xlabel("seconds under load")
    right.set_ylabel("server RSS, MiB")
    right.set_title("Server memory during the load test")
    right.legend(fontsize=8)
    save_figure(fig, out_dir, "load")
