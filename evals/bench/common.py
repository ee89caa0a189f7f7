"""What every benchmark shares: where things go, the machine it ran on, percentiles and ratios,
JSON + PNG output, RegQA settings for a benchmark index, and starting a real server process.

Kept in one place so every benchmark describes the machine, computes percentiles and prints
ratios the same way, and so the numbers in RESULTS.md are comparable across benchmarks."""

from __future__ import annotations

import json
import os
import platform
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

import numpy as np
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from regqa.config import Settings

PROJECT = Path(__file__).resolve().parents[2]
BENCH_DIR = Path(__file__).resolve().parent
DEFAULT_OUT = BENCH_DIR / "results"
# Indexes the benchmarks build are reused by later runs (query and load need one).
CACHE = BENCH_DIR / ".cache"
CORPUS = PROJECT / "corpus"
DEV_SET = PROJECT / "evals" / "datasets" / "dev.jsonl"
TEST_SET = PROJECT / "evals" / "datasets" / "test.jsonl"  # the frozen split: measured, never tuned on

# --quick indexes these documents only: they hold every gold evidence span of 44 answerable dev
# and 12 answerable test questions (the 30 + 11 unanswerable ones are asked too).
QUICK_DOCS = (
    "eu-intl/echri-code-of-conduct-2023.md",
    "eu-intl/eu-2021-821-dual-use-regulation.md",
    "eu-intl/eu-2024-2659-cyber-surveillance-guidelines.md",
    "eu-intl/uk-export-control-order-2008.md",
    "eu-intl/uk-parliament-hikvision-surveillance-answers.md",
    "eu-intl/wassenaar-2025-dual-use-list-cat4-cat5p1.md",
    "us-ear/15-cfr-part-742.md",
    "us-ear/15-cfr-part-762.md",
)

console = Console(stderr=True)
out = Console()

_VERSIONED = ("torch", "onnxruntime", "optimum", "chromadb", "sentence-transformers", "transformers",
              "numpy", "langchain-core", "langchain-huggingface", "langchain-chroma")


# -- the machine ------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    """CPU, cores, RAM, library versions and the load when measured: timings mean little without."""
    import psutil

    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "ram_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "versions": versions,
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
    }


def load_average() -> float:
    """1-minute load average: above the core count, other work shared the CPU with the benchmark."""
    return round(os.getloadavg()[0], 2)


# -- numbers ----------------------------------------------------------------------------------


def summarize(samples_ms: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/mean/max of latencies in milliseconds (numpy's linear interpolation)."""
    if not samples_ms:
        return {"n": 0, "p50": float("nan"), "p95": float("nan"), "p99": float("nan"),
                "mean": float("nan"), "max": float("nan")}
    values = np.asarray(samples_ms, dtype=np.float64)
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {"n": int(values.size), "p50": round(float(p50), 2), "p95": round(float(p95), 2),
            "p99": round(float(p99), 2), "mean": round(float(values.mean()), 2),
            "max": round(float(values.max()), 2)}


def ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, NaN instead of a ZeroDivisionError or inf."""
    if not denominator or not np.isfinite(denominator) or not np.isfinite(numerator):
        return float("nan")
    return round(numerator / denominator, 2)


def print_ratio(label: str, value: float, meaning: str) -> None:
    """One ratio line, e.g. `RegQA vs LangChain wall time: 3.10x (higher = RegQA faster)`."""
    out.print(f"  [bold]{label}[/bold]: {value:.2f}x  [dim]({meaning})[/dim]")


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    table = Table(title=title, title_justify="left")
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*(_cell(v) for v in row))
    out.print(table)


def _cell(value: object) -> str:
    if isinstance(value, float):
        if not np.isfinite(value):
            return "–"
        return f"{value:,.2f}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def target(name: str, passed: bool, detail: str) -> dict[str, object]:
    """A target from the issue, printed as met or missed, and kept in the JSON."""
    mark = "[green]met[/green]" if passed else "[red]MISSED[/red]"
    out.print(f"  target {name}: {mark} — {detail}")
    return {"target": name, "met": bool(passed), "detail": detail}


# -- output -----------------------------------------------------------------------------------


def write_json(out_dir: Path, name: str, data: dict[str, Any]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n", encoding="utf-8")
    console.print(f"wrote {_shown(path)}")
    return path


def save_figure(fig: Figure, out_dir: Path, name: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    console.print(f"wrote {_shown(path)}")
    return path


def figure(ncols: int = 1, width: float = 6.0, height: float = 4.0) -> tuple[Figure, Any]:
    """A headless matplotlib figure (Agg: the benchmarks run without a display)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(1, ncols, figsize=(width * ncols, height))


def _jsonable(value: object) -> object:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(PROJECT))
    except ValueError:
        return str(path)


def progress_bar() -> Any:
    """The progress bar every long step shows (on stderr, gone when done)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description:<40}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True)


class Stopwatch:
    """`with Stopwatch() as sw: ...; sw.seconds, sw.cpu` — wall time of a block, and the CPU time
    of this process's threads over it: on a shared machine wall time grows with other people's
    load, CPU time much less (it still grows a little: cache misses, runtime threads spinning)."""

    def __enter__(self) -> Self:
        self.started = time.perf_counter()
        self._cpu = time.process_time()
        self.seconds = 0.0
        self.cpu = 0.0
        return self

    def __exit__(self, *_: object) -> None:
        self.seconds = time.perf_counter() - self.started
        self.cpu = time.process_time() - self._cpu


# -- RegQA under benchmark --------------------------------------------------------------------


@dataclass(frozen=True)
class Variant:
    """Full corpus or the --quick subset; each has its own cached indexes."""

    quick: bool

    @property
    def name(self) -> str:
        return "quick" if self.quick else "full"

    @property
    def cache(self) -> Path:
        return CACHE / self.name

    def corpus(self) -> Path:
        """The corpus folder to index: the bundled one, or a copy of the QUICK_DOCS subset."""
        if not self.quick:
            return CORPUS
        root = self.cache / "corpus"
        for rel in QUICK_DOCS:
            target_path = root / rel
            source = CORPUS / rel
            if not target_path.exists() or target_path.read_bytes() != source.read_bytes():
                target_path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target_path)
        return root

    def settings(self, data_dir: Path | None = None) -> Settings:
        """RegQA's own defaults (REGQA_* still apply, e.g. the embedding backend), with the
        index in the benchmark cache and the embedded Chroma (never a user's Chroma server)."""
        from regqa.config import Settings, apply_offline_environment

        apply_offline_environment()
        return Settings(data_dir=data_dir or self.cache / "regqa-index", corpus_dir=self.corpus(),
                        chroma_url=None)


def embedding_backend(settings: Settings) -> str:
    """The backend RegQA embeds with; "torch" before the setting existed."""
    return str(getattr(settings, "embedding_backend", "torch"))


def load_embedder(settings: Settings) -> Any:
    """The embedder RegQA uses by default: `indexer.embeddings.load_embedder` when it exists,
    else the sentence-transformers one (so the benchmarks work before and after that change)."""
    from indexer import embeddings

    factory = getattr(embeddings, "load_embedder", None)
    if factory is not None:
        return factory(settings)
    return embeddings.SentenceTransformerEmbedder(settings.model_path, settings.embed_batch_size)


def ensure_index(settings: Settings) -> None:
    """Bring the cached RegQA index up to date (a no-op in about a second when it is)."""
    from indexer.pipeline import Indexer

    with progress_bar() as bar:
        tasks: dict[str, Any] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(f"RegQA index: {stage}", total=total)
            bar.update(tasks[stage], completed=done, total=total)

        summary = Indexer(settings).run(progress=progress)
    console.print(f"RegQA index at {_shown(settings.index_dir)}: {summary.chunks} chunks "
                  f"({summary.chunks_embedded} embedded now, {summary.seconds:.1f} s)")


def read_generation_chunks(settings: Settings) -> list[Any]:
    """The chunks of the committed generation (`generations/<gen>/chunks.jsonl`)."""
    from indexer.store import IndexStore

    store = IndexStore(settings.index_dir)
    return store.read_chunks(store.read_manifest().generation)


def indexed_files(settings: Settings) -> list[Path]:
    """The files the RegQA index holds: the baseline reads exactly these (corpus/README.md,
    MANIFEST.md and `index: false` files are not part of the corpus RegQA serves)."""
    from indexer.store import IndexStore

    manifest = IndexStore(settings.index_dir).read_manifest()
    return sorted(Path(entry.path) for entry in manifest.documents.values())


# -- processes --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(command: list[str], ready_url: str, log_path: Path, env: dict[str, str] | None = None,
            timeout: float = 180) -> Iterator[subprocess.Popen[bytes]]:
    """Start a real server process, wait until `ready_url` answers 200, stop it afterwards
    (the same idea as tests/conftest.py, raising instead of failing a test)."""
    import httpx

    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if httpx.get(ready_url, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{command[0]} did not start: {log_path.read_text()[-2000:]}")
                time.sleep(0.3)
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def rss_bytes(pid: int) -> int:
    """Resident memory of a process and its children (a server may fork workers)."""
    import psutil

    try:
        process = psutil.Process(pid)
        total = process.memory_info().rss
        for child in process.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return int(total)
    except psutil.NoSuchProcess:
        return 0


def mib(value: float) -> float:
    return round(value / 2**20, 1)
