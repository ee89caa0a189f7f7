"""The `regqa` command line: index documents, list what is indexed, show index status."""

from __future__ import annotations

import json
import logging
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from regqa.config import Settings, apply_offline_environment

app = typer.Typer(
    name="regqa",
    help=(
        "RegQA: answers to export-control questions on surveillance technology, with citations "
        "to the exact article, section or control-list entry.\n\n"
        "Settings come from REGQA_* environment variables (e.g. REGQA_DATA_DIR, REGQA_CHROMA_URL)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()

_STAGES = {"scan": "Reading documents", "embed": "Embedding chunks", "write": "Writing the index"}


def _fail(message: object, code: int, label: str = "[red]Error:[/red]") -> typer.Exit:
    """Print a readable error (never a traceback) and return the exit to raise."""
    console.print(f"{label} {message}")
    return typer.Exit(code)


BUSY = 75  # EX_TEMPFAIL: another indexing run holds the lock; try again later


def _settings() -> Settings:
    apply_offline_environment()
    try:
        settings = Settings()
    except Exception as exc:  # pydantic's ValidationError: show it as a settings problem
        raise _fail(exc, 2, "[red]Invalid RegQA settings:[/red]") from None
    _configure_logging(settings)
    return settings


def _log_path(settings: Settings) -> Path:
    return settings.index_dir / "logs" / "regqa.log"


def _own(record: logging.LogRecord) -> bool:
    return record.name == "regqa" or record.name.startswith("regqa.")


class _Levels(logging.Filter):
    """One threshold for RegQA's own loggers (`regqa.*`), another for every other library."""

    def __init__(self, own: int, other: int) -> None:
        super().__init__()
        self.own, self.other = own, other

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= (self.own if _own(record) else self.other)


class _Terminal(logging.Handler):
    """Printed through the console, so that a message lands above a progress bar, not inside it."""

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage() if _own(record) else f"{record.levelname} {record.name}: {record.getMessage()}"
        console.print(escape(text), soft_wrap=True, highlight=False)


class _LogFile(RotatingFileHandler):
    """The log under the data dir, created with its folder only when something is written."""

    def _open(self):  # noqa: ANN202 - logging's API
        Path(self.baseFilename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open()


def _configure_logging(settings: Settings) -> None:
    """Library warnings (the ONNX exporter's, Python warnings) and logs go to the log file under
    the data dir, not to the terminal: a new user reads screens of them as something broken.
    bm25s sets its own logger to DEBUG; only REGQA_LOG_LEVEL=debug lets that through."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, (_Terminal, _LogFile))]:
        root.removeHandler(handler)  # configured again (several commands in one process)
        handler.close()
    level = logging.getLevelNamesMapping()[settings.log_level.upper()]
    debug = level <= logging.DEBUG
    log_file = _LogFile(_log_path(settings), maxBytes=2_000_000, backupCount=2, encoding="utf-8", delay=True)
    log_file.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    # The file: RegQA's messages and other libraries' warnings; the terminal: RegQA's messages
    # and other libraries' errors. At debug, both get everything.
    log_file.addFilter(_Levels(logging.DEBUG, logging.DEBUG) if debug else _Levels(logging.INFO, logging.WARNING))
    terminal = _Terminal()
    terminal.addFilter(_Levels(level, logging.DEBUG if debug else logging.ERROR))
    root.addHandler(log_file)
    root.addHandler(terminal)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    logging.captureWarnings(True)


@app.command()
def index(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Files or folders to index (default: the bundled corpus/).", show_default=False),
    ] = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Discard the index and embed everything again.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Index documents (Markdown, HTML, PDF, text); unchanged ones are skipped.

    Re-running is cheap: documents whose content hash is unchanged are not read again,
    changed ones are replaced and deleted ones removed. An interrupted run leaves the
    previous index usable. Files that cannot be read are listed with the reason and skipped.
    """
    from indexer.pipeline import Indexer, IndexBusy

    settings = _settings()
    indexer = Indexer(settings)
    with Progress(
        TextColumn("{task.description:<20}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=False, disable=as_json or not console.is_terminal,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(_STAGES.get(stage, stage), total=total)
            bar.update(tasks[stage], completed=done, total=total)

        try:
            summary = indexer.run(paths or None, rebuild=rebuild, progress=progress)
        except IndexBusy as exc:
            raise _fail(exc, BUSY, "[yellow]Busy:[/yellow]") from None
        except FileNotFoundError as exc:
            raise _fail(exc, 2) from None
    if as_json:
        out.print_json(json.dumps({
            "documents": summary.documents, "chunks": summary.chunks,
            "chunks_embedded": summary.chunks_embedded, "chunks_from_bundled_vectors": summary.chunks_from_bundled,
            "added": summary.added,
            "updated": summary.updated, "unchanged": len(summary.unchanged), "removed": summary.removed,
            "not_indexed": summary.not_indexed,
            "skipped": [{"path": s.path, "reason": s.reason} for s in summary.skipped],
            "seconds": round(summary.seconds, 2),
        }))
        return
    state = "updated" if summary.committed else "already up to date"
    console.print(
        f"Index {state}: {summary.documents} documents, {summary.chunks} chunks "
        f"({len(summary.added)} added, {len(summary.updated)} changed, {len(summary.removed)} removed, "
        f"{len(summary.unchanged)} unchanged; {summary.chunks_embedded} chunks embedded"
        f"{f', {summary.chunks_from_bundled} from the shipped vectors' if summary.chunks_from_bundled else ''}) "
        f"in {summary.seconds:.1f} s → {settings.index_dir}", soft_wrap=True,
    )
    console.print(f"[dim]Details and library warnings: {_log_path(settings)}[/dim]", soft_wrap=True)
    for doc_id in summary.not_indexed:
        console.print(f"  [dim]not indexed (index: false): {doc_id}[/dim]")
    for skipped in summary.skipped:
        console.print(f"  [yellow]skipped[/yellow] {skipped.path}: {skipped.reason}")


@app.command()
def docs(as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list.")] = False) -> None:
    """List indexed documents with provenance, as-of date and completeness."""
    from indexer.store import IndexStore

    settings = _settings()
    manifest = IndexStore(settings.index_dir).read_manifest()
    rows = [
        {
            "id": doc_id,
            "title": entry.meta.title,
            "cite_as": entry.meta.cite_as,
            "doc_type": entry.meta.doc_type,
            "jurisdiction": entry.meta.jurisdiction,
            "as_of": entry.meta.as_of,
            "completeness": entry.meta.completeness_status,
            "completeness_detail": entry.meta.completeness,
            "source_url": entry.meta.source_url,
            "license": entry.meta.license,
            "chunks": entry.chunk_count,
            "path": entry.path,
            "indexed_at": entry.indexed_at,
        }
        for doc_id, entry in sorted(manifest.documents.items())
    ]
    if as_json:
        out.print_json(json.dumps(rows))
        return
    if not rows:
        console.print("The index is empty. Run `regqa index` first.")
        raise typer.Exit(1)
    table = Table(title=f"Indexed documents ({settings.index_dir})", show_lines=False)
    for column in ("id", "cite as", "type", "jurisdiction", "as of", "complete", "chunks"):
        table.add_column(column, overflow="fold")
    for row in rows:
        flag = "[yellow]partial[/yellow]" if row["completeness"] == "partial" else row["completeness"]
        table.add_row(row["id"], row["cite_as"], row["doc_type"], row["jurisdiction"],
                      row["as_of"][:40], flag, str(row["chunks"]))
    out.print(table)


@app.command()
def remove(doc_ids: Annotated[list[str], typer.Argument(help="Document ids, as `regqa docs` lists them.")]) -> None:
    """Remove documents from the index (their files are left alone)."""
    from indexer.pipeline import Indexer, IndexBusy

    try:
        summary = Indexer(_settings()).remove(doc_ids)
    except KeyError as exc:
        raise _fail(exc.args[0], 1) from None
    except IndexBusy as exc:
        raise _fail(exc, BUSY, "[yellow]Busy:[/yellow]") from None
    console.print(f"Removed {', '.join(summary.removed)} in {summary.seconds:.1f} s")


@app.command()
def status() -> None:
    """Say where the index is and what it holds."""
    from indexer.progress import IndexProgress
    from indexer.store import IndexStore

    settings = _settings()
    manifest = IndexStore(settings.index_dir).read_manifest()
    progress = IndexProgress.read(settings.index_dir)
    running = progress if progress is not None and progress.alive else None  # one read of the report
    if not manifest.documents:
        if running is not None:
            console.print(f"No index at {settings.index_dir} yet: an indexing run is {running.describe()}.")
        else:
            console.print(f"No index at {settings.index_dir}. Run `regqa index` to build one.")
        raise typer.Exit(1)
    chunks = sum(e.chunk_count for e in manifest.documents.values())
    partial = sum(e.meta.completeness_status == "partial" for e in manifest.documents.values())
    out.print(f"Index: {settings.index_dir}")
    server = settings.chroma_server
    out.print(f"Vectors: {server.describe() if server else 'embedded Chroma'} (collection {manifest.collection})")
    out.print(f"Documents: {len(manifest.documents)} ({partial} partial), chunks: {chunks}")
    out.print(f"Committed: {manifest.committed_at}")
    if not manifest.dense_ready:
        stored = f"{progress.vectors:,} of {progress.chunks:,}" if progress is not None else "some"
        out.print(f"Dense vectors: {stored} stored (warming up; keywords, titles and exact references answer "
                  f"meanwhile){'' if running else ' — the run stopped: `regqa index` completes it'}")
    if running is not None:
        out.print(f"Indexing now: {running.describe()} (pid {running.pid})")


@app.command()
def check(
    repair: Annotated[bool, typer.Option(
        "--repair", help="Fix what can be fixed in place: re-embed missing vectors, delete orphan vectors, "
                         "drop unused collections, remove uncommitted generations and temp files.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Verify the index against its manifest and the corpus; with --repair, fix it.

    Checks that every chunk's document is in the manifest and every document has its chunks,
    that BM25 and Chroma hold exactly the committed chunks, and that each document's file
    still matches its stored hash. Problems are corrupt (queries may go wrong), drift (the
    corpus changed: run `regqa index`) or leftover (an interrupted run's debris, never seen by
    queries). Exit code 0 when healthy, 1 when problems remain, 75 when an indexing run is
    writing the index.
    """
    from indexer.check import check_index, repair_index
    from indexer.pipeline import IndexBusy

    settings = _settings()
    try:
        report = repair_index(settings) if repair else check_index(settings)
    except IndexBusy as exc:
        raise _fail(exc, BUSY, "[yellow]Busy:[/yellow]") from None
    if as_json:
        out.print_json(json.dumps(report.as_dict()))
    else:
        for action in report.repaired:
            console.print(f"[green]Repaired:[/green] {action}")
        console.print(f"Index {report.index_dir}: {report.documents} documents, {report.chunks} chunks, "
                      f"{report.vectors} vectors (generation {report.generation or '-'})")
        colours = {"corrupt": "red", "drift": "yellow", "leftover": "cyan"}
        for problem in report.problems:
            console.print(f"  [{colours[problem.severity]}]{problem.severity}[/] {escape(problem.message)}")
        if report.healthy:
            console.print("[green]Healthy:[/green] nothing to report.")
        elif report.usable:
            console.print("Usable: queries are answered from the committed index.")
        fixable = sum(p.repairable for p in report.problems)
        if fixable and not repair:
            console.print(f"Run `regqa check --repair` to fix {fixable} of these in place.")
    if not report.healthy:
        raise typer.Exit(1)


def _render(response) -> None:  # noqa: ANN001 - assistant.records.AnswerResponse
    from rich.markdown import Markdown
    from rich.panel import Panel

    title = "No answer in the corpus" if response.abstained else f"Answer ({response.mode})"
    out.print(Panel(Markdown(response.answer), title=title, border_style="yellow" if response.abstained else "green"))
    _sources(response.citations)
    for sentence in response.unsupported_sentences:
        out.print(f"[red]Removed, not supported by the sources:[/red] {sentence}")
    for notice in response.notices:
        out.print(f"[dim]{notice}[/dim]")


def _sources(citations) -> None:  # noqa: ANN001 - list[assistant.records.Citation]
    """The numbered sources under an answer or a determination, each with its quote."""
    if not citations:
        return
    table = Table(title="Sources", show_lines=True, expand=True)
    table.add_column("#", width=3)
    table.add_column("instrument and section", ratio=2, overflow="fold")
    table.add_column("quoted text", ratio=5, overflow="fold")
    for c in citations:
        where = f"{c.cite_as}\n[bold]{c.section}[/bold]" + (f"\npage {c.page}" if c.page else "")
        if c.completeness != "full":
            where += f"\n[yellow]{c.completeness} document[/yellow]"
        where += f"\n[link={c.source_url}]{c.source_url}[/link]" if c.source_url else ""
        table.add_row(str(c.n), where, c.quote)
    out.print(table)


def _assistant(settings: Settings):  # noqa: ANN202
    from assistant.service import Assistant
    from indexer.reader import IndexMissing

    assistant = Assistant(settings)
    try:
        assistant.reader.snapshot()
    except IndexMissing as exc:
        raise _fail(exc, 1) from None
    return assistant


_Jurisdiction = Annotated[
    list[str] | None,
    typer.Option("--jurisdiction", "-j", help="Only these jurisdictions (US, EU, UK, Wassenaar, multilateral); repeatable."),
]
_DocType = Annotated[list[str] | None, typer.Option("--doc-type", help="Only these document types; repeatable.")]
_TopK = Annotated[int | None, typer.Option("--top-k", min=1, max=50, help="Passages to retrieve (default 10, REGQA_TOP_K).")]
_Mode = Annotated[str | None, typer.Option("--mode", help="extractive (default, no LLM) or llm.")]


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question, in quotes.")],
    jurisdiction: _Jurisdiction = None,
    doc_type: _DocType = None,
    top_k: _TopK = None,
    mode: _Mode = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full response record as JSON.")] = False,
) -> None:
    """Answer one question with numbered, quoted sources.

    Example: regqa ask "Does exporting facial recognition cameras to a public security bureau need a licence?"
    """
    from assistant.service import QuestionError
    from indexer.reader import Filters

    if mode not in (None, "extractive", "llm"):
        raise _fail("--mode must be extractive or llm", 2)
    assistant = _assistant(_settings())
    try:
        response = assistant.ask(question, filters=Filters.of(jurisdiction, doc_type), top_k=top_k, mode=mode)  # type: ignore[arg-type]
    except QuestionError as exc:
        raise _fail(exc, 2) from None
    if as_json:
        out.print_json(response.model_dump_json())
    else:
        _render(response)


@app.command()
def determine(
    item: Annotated[str, typer.Option("--item", help="What is exported, in words.")],
    to: Annotated[str | None, typer.Option("--to", help="Destination country: ISO code (CN) or English name.")] = None,
    origin: Annotated[str | None, typer.Option("--from", help="Country of export (default: the EU). GB walks the "
                                                "UK Order instead of the EU Regulation; US only the EAR.")] = None,
    end_user: Annotated[str | None, typer.Option("--end-user", help="The end user's name (screened when a list "
                                                                     "is imported).")] = None,
    end_user_type: Annotated[str | None, typer.Option(
        "--end-user-type", help="government, police, military, telecom, company or individual.")] = None,
    end_use: Annotated[str | None, typer.Option("--end-use", help="What the end user will do with the item.")] = None,
    code: Annotated[list[str] | None, typer.Option("--code", help="A known classification: Annex I entry "
                                                    "(5A001.j), ECCN (3A981) or Wassenaar entry; repeatable.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the determination record as JSON.")] = False,
) -> None:
    """Walk the licence decision path for one export, EU (or UK) and US, citing each step.

    Each step says what it asks, what the bundled texts and your facts give, and an outcome:
    licence required; licence may be required (and on what it depends); no licence required on
    the bundled texts; or cannot determine (a source not bundled, a fact missing).

    Example: regqa determine --item "facial recognition cameras" --to CN
    --end-user "Urumqi Municipal Public Security Bureau" --end-user-type police
    """
    from pydantic import ValidationError
    from rich.markdown import Markdown
    from rich.panel import Panel

    from determination.facts import EndUserType, Facts, describe_errors, end_user_type_of
    from determination.render import as_markdown

    try:
        kind = EndUserType(end_user_type.lower()) if end_user_type else end_user_type_of(end_user or "")
    except ValueError:
        raise _fail(f"--end-user-type must be one of {', '.join(t.value for t in EndUserType)}", 2) from None
    try:
        facts = Facts(item=item, codes=code or [], destination=to, origin=origin, end_user=end_user,
                      end_user_type=kind, end_use=end_use)
    except ValidationError as exc:
        problems = describe_errors(exc)
        raise _fail(problems, 2) from None
    assistant = _assistant(_settings())
    determination = assistant.determiner.determine(facts)
    if as_json:
        out.print_json(determination.model_dump_json())
        return
    out.print(Panel(Markdown(as_markdown(determination)), title="Licence check", border_style="cyan"))
    _sources(determination.citations)
    for notice in determination.notices:
        out.print(f"[dim]{notice}[/dim]")


@app.command()
def chat(
    jurisdiction: _Jurisdiction = None,
    doc_type: _DocType = None,
    mode: _Mode = None,
) -> None:
    """Ask questions in a conversation; follow-ups ("and if the buyer is in Russia?") keep context.

    Type a question and press Enter; an empty line or Ctrl-D ends the session.
    """
    from assistant.records import Turn
    from assistant.service import QuestionError
    from indexer.reader import Filters

    assistant = _assistant(_settings())
    history: list[Turn] = []
    filters = Filters.of(jurisdiction, doc_type)
    console.print("RegQA chat. Not legal advice. Empty line or Ctrl-D to quit.")
    while True:
        try:
            question = console.input("[bold]? [/bold]")
        except (EOFError, KeyboardInterrupt):
            break
        if not question.strip():
            break
        try:
            response = assistant.ask(question, history=history, filters=filters, mode=mode)  # type: ignore[arg-type]
        except QuestionError as exc:
            console.print(f"[red]{exc}[/red]")
            continue
        _render(response)
        history += [Turn(role="user", content=question), Turn(role="assistant", content=response.answer)]


@app.command(name="eval")
def evaluate(
    dataset: Annotated[Path, typer.Option("--dataset", help="Gold set (JSON Lines).", exists=True, dir_okay=False)],
    mode: Annotated[str, typer.Option("--mode", help="extractive or llm.")] = "extractive",
    api: Annotated[str | None, typer.Option("--api", help="Evaluate a running server (base URL) instead of in-process.")] = None,
    api_key: Annotated[str | None, typer.Option("--api-key", envvar="REGQA_EVAL_API_KEY", help="Key for --api.")] = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for report.json, report.md and the chart.")] = Path("evals/out"),
    fail_under: Annotated[list[str] | None, typer.Option("--fail-under", help="metric=value; exit 1 if missed (latency: exit 1 if over). Repeatable.")] = None,
    baseline: Annotated[Path | None, typer.Option("--baseline", help="A previous report.json to compare with.", exists=True, dir_okay=False)] = None,
    gate: Annotated[Path | None, typer.Option("--gate", help="Check the CI gate (e.g. evals/gate.json): floors, per type, per kind of unanswerable question, zero errors, and no question that passed in evals/baselines/<dataset>.json may fail. Exit 1 if missed.", exists=True, dir_okay=False)] = None,
    write_baseline: Annotated[bool, typer.Option("--write-baseline", help="Record which questions pass now as evals/baselines/<dataset>.json (commit it with the reason).")] = False,
) -> None:
    """Measure retrieval, citation accuracy, support, abstention and latency on a gold set.

    Citations count only where their quote overlaps the gold evidence in the source file.
    Writes report.json (metrics, per_type, questions), report.md and metrics_by_type.png to --out.
    """
    from evals import gate as gates_module
    from evals.dataset import DatasetError, load_dataset
    from evals.gold import SourceTexts, check_dataset
    from evals.metrics import LOWER_IS_BETTER, METRIC_KEYS
    from evals.report import build_report, write_reports
    from evals.runner import InProcess, OverHTTP, run

    if mode not in ("extractive", "llm"):
        raise _fail("--mode must be extractive or llm", 2)
    gates: dict[str, float] = {}
    for item in fail_under or []:
        name, _, value = item.partition("=")
        if name not in METRIC_KEYS or not value:
            raise _fail(f"--fail-under {item!r}: use metric=value with one of {', '.join(METRIC_KEYS)}", 2)
        gates[name] = float(value)
    try:
        questions = load_dataset(dataset)
    except DatasetError as exc:
        raise _fail(exc, 2, "[red]Invalid dataset:[/red]") from None
    settings = _settings()
    sources = SourceTexts(settings.default_corpus)
    problems = check_dataset(questions, sources)
    if problems:
        raise _fail("\n".join(problems[:20]), 2, "[red]Invalid gold evidence:[/red]")
    if api:
        backend = OverHTTP(api, api_key)
        from indexer.embeddings import load_embedder

        embedder = load_embedder(settings)
    else:
        backend = InProcess(_assistant(settings))
        embedder = backend.embedder
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, disable=not console.is_terminal) as bar:
        task = bar.add_task("Evaluating", total=len(questions))
        result = run(questions, backend, embedder.encode, sources, mode=mode,  # type: ignore[arg-type]
                     on_progress=lambda _: bar.advance(task))
    base = json.loads(baseline.read_text(encoding="utf-8")) if baseline else None
    report = build_report(result.scores, dataset=str(dataset), mode=mode, backend=api or "in-process",
                          seconds=result.seconds, baseline=base)
    paths = write_reports(report, out_dir)
    table = Table(title=f"RegQA eval: {dataset.name} ({mode}, {len(questions)} questions)")
    table.add_column("metric")
    table.add_column("value", justify="right")
    if base:
        table.add_column("Δ baseline", justify="right")
    failed = []
    for key in METRIC_KEYS:
        value = report["metrics"][key]
        row = [key, f"{value:.4g}"]
        if base:
            row.append(f"{report['baseline_delta'].get(key, 0):+.4g}")
        if key in gates:
            missed = value > gates[key] if key in LOWER_IS_BETTER else value < gates[key]
            row[0] += " [red](gate missed)[/red]" if missed else " [green](gate ok)[/green]"
            if missed:
                failed.append(f"{key}={value:.4g} (gate {gates[key]})")
        table.add_row(*row)
    out.print(table)
    console.print(f"Reports: {paths['json']}, {paths['markdown']}, {paths['chart']}")
    if result.errors:
        failed.append(f"{len(result.errors)} question(s) raised an error: {result.errors[0]}")
    if gate:
        base_path = gates_module.baseline_path(dataset)
        base_record = json.loads(base_path.read_text(encoding="utf-8")) if base_path.exists() else None
        floors = gates_module.for_dataset(gates_module.load_gate(gate), dataset)
        failed += gates_module.check(report, floors, base_record)
    if write_baseline:
        path = gates_module.baseline_path(dataset)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(gates_module.baseline_record(report), indent=1) + "\n", encoding="utf-8")
        console.print(f"Baseline written: {path}")
    if failed:
        console.print(f"[red]Gate missed:[/red] {'; '.join(failed)}")
        raise typer.Exit(1)


# -- party screening ------------------------------------------------------------------------------

# Exit codes of `regqa screen` and `regqa lists`: a list that is missing or unreadable is never a
# clean "no match" (0), and scripts can tell the cases apart.
SCREEN_BAD_INPUT = 2  # an unusable name, country or threshold; a list file that was refused
SCREEN_NO_LIST = 3  # no screening list imported
SCREEN_UNREADABLE = 4  # the imported list cannot be read
SCREEN_DOWNLOAD_FAILED = 5  # `lists update` could not download the list

_EXIT_CODES = (
    "Exit codes: 0 screened (with or without hits), 2 bad input or a refused list file, "
    "3 no screening list imported, 4 the imported list cannot be read, 5 download failed (lists update)."
)

lists_app = typer.Typer(
    name="lists",
    help=(
        "Import, update and inspect the restricted-party list that `regqa screen` uses.\n\n"
        "The list is the US Consolidated Screening List (Entity List, MEU and Unverified Lists, Denied "
        "Persons, OFAC SDN and non-SDN lists, State's debarred and nonproliferation lists) in its "
        "published CSV or JSON layout, or a list of your "
        "own in the same layout. It is stored beside the index (<data dir>/screening/).\n\n" + _EXIT_CODES
    ),
    no_args_is_help=True,
)
app.add_typer(lists_app)


def _list_line(info) -> str:  # noqa: ANN001 - screening.records.ListInfo
    dated = [f"{s.source.split(' - ')[0]} {s.source_last_updated[:10]}" for s in info.sources_used if s.source_last_updated]
    when = f"sources as of: {'; '.join(dated)}" if dated else "the file gives no source dates"
    return (f"{info.file_name} ({info.format}, {info.entries:,} entries, imported {info.imported_at}, "
            f"sha256 {info.sha256[:12]}…; {when})")


def _print_import(summary, as_json: bool) -> None:  # noqa: ANN001 - screening.records.ImportSummary
    if as_json:
        out.print_json(summary.model_dump_json())
        return
    info = summary.list_info
    out.print(f"Imported {info.file_name}: {info.entries:,} entries → {summary.stored_at}", soft_wrap=True)
    for source in info.sources_used:
        date = f", last updated {source.source_last_updated}" if source.source_last_updated else ""
        out.print(f"  {source.entries or 0:>6,}  {source.source}{date}", soft_wrap=True, highlight=False)
    if summary.replaced_sha256:
        out.print(f"[dim]Replaced the previous import (sha256 {summary.replaced_sha256[:12]}…).[/dim]")


@lists_app.command("import")
def lists_import(
    file: Annotated[Path, typer.Argument(help="The list file: .csv, .tsv or .json in the published layout.",
                                         exists=True, dir_okay=False, readable=True)],
    as_json: Annotated[bool, typer.Option("--json", help="Print the import summary as JSON.")] = False,
) -> None:
    """Import a screening list file, replacing the previous import only if the new file is valid.

    Download the Consolidated Screening List from trade.gov (CSV or JSON) or use `regqa lists update`.
    The CSV must have exactly the 29 published columns (_id, source, entity_number, ..., ids); a file
    whose columns differ is refused, as are files that are not UTF-8, empty, without entries, with
    invalid JSON or with an entry without a name. A refused file changes nothing. Columns may come in
    any order (they are read by name); a .tsv file is read tab-separated.

    Exit codes: 0 imported, 2 the file was refused or cannot be read.
    """
    from screening import ScreeningStore
    from screening.importer import ListFormatError

    store = ScreeningStore(_settings())
    try:
        summary = store.import_file(file)
    except ListFormatError as exc:
        raise _fail(f"{exc}\nThe previous import, if any, is unchanged.", SCREEN_BAD_INPUT,
                    "[red]Not imported:[/red]") from None
    except OSError as exc:
        raise _fail(f"cannot read {file}: {exc.strerror or exc}", SCREEN_BAD_INPUT) from None
    _print_import(summary, as_json)


@lists_app.command("update")
def lists_update(
    url: Annotated[str | None, typer.Option(
        "--url", help="Where to download from (default REGQA_SCREENING_LIST_URL, the official CSV).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the import summary as JSON.")] = False,
) -> None:
    """Download the Consolidated Screening List and import it (the same checks as `lists import`).

    Needs network access to data.trade.gov (or --url). A failed download or a refused file keeps the
    previous import.

    Exit codes: 0 imported, 2 the downloaded file was refused, 5 the download failed.
    """
    from screening import ScreeningStore
    from screening.importer import ListFormatError
    from screening.update import ListDownloadError, update

    settings = _settings()
    target = url or settings.screening_list_url
    if not as_json:
        console.print(f"Downloading {target} …", soft_wrap=True)
    try:
        summary = update(ScreeningStore(settings), target)
    except ListDownloadError as exc:
        raise _fail(f"{exc}\nThe previous import, if any, is unchanged.", SCREEN_DOWNLOAD_FAILED,
                    "[red]Download failed:[/red]") from None
    except ListFormatError as exc:
        raise _fail(f"{exc}\nThe previous import, if any, is unchanged.", SCREEN_BAD_INPUT,
                    "[red]Downloaded file refused:[/red]") from None
    _print_import(summary, as_json)


@lists_app.command("status")
def lists_status(as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False) -> None:
    """Say whether a screening list is imported, where it came from and how old its sources are.

    Exit code 0 when a list is imported and readable, 3 when none is imported, 4 when it cannot be read.
    """
    from screening import ScreeningStore

    state = ScreeningStore(_settings()).status()
    code = {"loaded": 0, "no-list": SCREEN_NO_LIST, "unreadable": SCREEN_UNREADABLE}[state.status]
    if as_json:
        out.print_json(json.dumps({"status": state.status, "path": str(state.path), "problem": state.problem,
                                   "list": state.info.model_dump(mode="json") if state.info else None}))
    elif state.status == "no-list":
        console.print(f"No screening list imported ({state.path}). Run `regqa lists import FILE` or "
                      "`regqa lists update`.", soft_wrap=True)
    elif state.status == "unreadable":
        console.print(f"[red]The imported screening list cannot be read:[/red] {state.problem}\n"
                      "Import it again with `regqa lists import FILE`.", soft_wrap=True)
    else:
        info = state.info
        out.print(f"Screening list: {state.path}", soft_wrap=True)
        out.print(f"File: {info.file_name} ({info.format}), sha256 {info.sha256}", soft_wrap=True)
        if info.source_url:
            out.print(f"Downloaded from: {info.source_url}", soft_wrap=True)
        out.print(f"Imported: {info.imported_at}; entries: {info.entries:,}")
        table = Table(title="Sources in the list")
        for column in ("source", "entries", "last updated", "imported by trade.gov"):
            table.add_column(column, overflow="fold")
        for source in info.sources_used:
            table.add_row(source.source, f"{source.entries or 0:,}", source.source_last_updated or "-",
                          source.last_imported or "-")
        out.print(table)
    raise typer.Exit(code)


def _render_screening(result) -> None:  # noqa: ANN001 - screening.records.ScreeningResult
    if result.status != "screened":
        console.print(f"[red]{escape(result.message)}[/red]", soft_wrap=True)
        return
    scope = f", country {result.country}" if result.country else ""
    out.print(f"Screened [bold]{escape(result.query)}[/bold] (threshold {result.threshold:g}{scope}) against "
              f"{escape(_list_line(result.list_info))}", soft_wrap=True, highlight=False)
    if result.hits:
        table = Table(title=f"Possible matches ({len(result.hits)})", show_lines=True, expand=True)
        table.add_column("score", justify="right", width=6)
        table.add_column("matched", ratio=2, overflow="fold")
        table.add_column("listed party", ratio=3, overflow="fold")
        table.add_column("list, licence requirement and policy", ratio=4, overflow="fold")
        for hit in result.hits:
            entry = hit.entry
            party = f"[bold]{escape(entry.name)}[/bold]" + (f" ({escape(entry.type)})" if entry.type else "")
            if entry.alt_names:
                party += "\n[dim]a.k.a.[/dim] " + escape("; ".join(entry.alt_names))
            for address in entry.addresses:
                party += f"\n{escape(address.text)}"
            listed = escape(entry.source) + (f", as of {hit.source_last_updated[:10]}" if hit.source_last_updated else "")
            for label, value in (("Federal Register", entry.federal_register_notice), ("since", entry.start_date),
                                 ("programs", "; ".join(entry.programs)),
                                 ("licence requirement", entry.license_requirement),
                                 ("licence policy", entry.license_policy), ("remarks", entry.remarks),
                                 ("source", entry.source_list_url)):
                if value:
                    listed += f"\n[dim]{label}:[/dim] {escape(value)}"
            table.add_row(f"{hit.score:.1f}", f"{hit.matched_field}\n{escape(hit.matched_text)}", party, listed)
        out.print(table)
    else:
        out.print(escape(result.message), highlight=False)
    out.print(f"[dim]{escape(result.reminder)}[/dim]", soft_wrap=True)


@app.command()
def screen(
    name: Annotated[str, typer.Argument(help="The party's name (company, authority or person), in quotes.")],
    country: Annotated[str | None, typer.Option(
        "--country", "-c", help="Only entries with an address in this country (ISO-2, e.g. CN); entries "
                                "without any address country are kept.")] = None,
    threshold: Annotated[float | None, typer.Option(
        "--threshold", "-t", help="Lowest score reported, 0-100 (default 85, REGQA_SCREENING_THRESHOLD).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result record as JSON.")] = False,
) -> None:
    """Screen a party name against the imported restricted-party list.

    Compares the name with every listed name and alias, tolerating word order, spacing, punctuation,
    corporate forms (Co., Ltd., JSC ...), accents, abbreviations (PSB, Tech) and transliteration
    variants. Each possible match shows its score, the field that matched (`name`, or `alt_names[2]` for the third alias)
    and its text, the threshold, the list and its date, the listed name, addresses, Federal Register
    citation, licence requirement and licence review policy.

    Names only: ownership and control (e.g. OFAC's 50 % rule) are not visible to name screening.

    Example: regqa screen "Urumqi Public Security Bureau" --country CN

    Exit codes: 0 screened (hits or not), 2 bad input, 3 no list imported, 4 the list cannot be read.
    """
    from screening import ScreeningInputError, ScreeningStore

    store = ScreeningStore(_settings())
    try:
        result = store.screen(name, country=country, threshold=threshold)
    except ScreeningInputError as exc:
        raise _fail(exc, SCREEN_BAD_INPUT) from None
    if as_json:
        out.print_json(result.model_dump_json())
    else:
        _render_screening(result)
    if result.status != "screened":
        raise typer.Exit(SCREEN_NO_LIST if result.status == "no-list" else SCREEN_UNREADABLE)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option("--host", help="Interface to bind (default 127.0.0.1, REGQA_HOST).")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port (default 8000, REGQA_PORT).")] = None,
    index_first: Annotated[bool, typer.Option(
        "--index", help="Also bring the index of the bundled corpus up to date, in a background process: "
        "answers start as soon as the documents are read (keywords, titles, exact references) and dense "
        "search fills in as passages are embedded; progress at /readyz and in the chat.")] = False,
) -> None:
    """Serve the chat (at /) and the answer API (at /v1, documented at /docs) on one server.

    `./scripts/start.sh` runs `regqa serve --index`: on a first start the server answers within
    a minute while the corpus is still being embedded; later starts re-index only what changed."""
    import uvicorn

    from web.auth import KeyRing

    settings = _settings()
    host = host or settings.host
    port = port or settings.port
    try:
        keyring = KeyRing.parse(settings.api_keys.get_secret_value() if settings.api_keys else None)
    except ValueError as exc:
        raise _fail(exc, 2, "[red]Invalid REGQA_API_KEYS:[/red]") from None
    note = ""
    if not keyring.configured:
        if host not in ("127.0.0.1", "localhost", "::1"):
            console.print(f"[yellow]No API keys configured (REGQA_API_KEYS): binding to 127.0.0.1, not {host}.[/yellow]",
                          soft_wrap=True)
        note = " (no API keys in REGQA_API_KEYS: on 127.0.0.1 only, without auth)"
        host = "127.0.0.1"
    background = None
    if index_first:
        from regqa.background_index import BackgroundIndexer

        background = BackgroundIndexer(settings.index_dir / "logs" / "index.log",
                                       lambda line: console.print(line, soft_wrap=True))
        background.start()  # reads and chunks the corpus while this process prepares the model
        console.print(f"Indexing {settings.default_corpus} in the background (log: {background.log_path}).",
                      soft_wrap=True)
    try:
        if background is None:
            assistant = _assistant(settings)
        else:
            from assistant.service import Assistant

            assistant = Assistant(settings)  # no index yet is fine: it is on its way
        from web.app import create_app

        application = create_app(settings, assistant=assistant)
        shown = f"[{host}]" if ":" in host else host
        console.print(f"RegQA is running: chat at [bold]http://{shown}:{port}/[/bold], API docs at "
                      f"http://{shown}:{port}/docs{note}", soft_wrap=True)
        uvicorn.run(application, host=host, port=port, log_level="warning", server_header=False)
    finally:
        if background is not None:
            background.stop()


@app.command()
def mcp() -> None:
    """Serve RegQA's tools to an AI assistant over MCP (Model Context Protocol) on stdin/stdout.

    Tools: search (ranked passages with citation metadata), answer (the verified answer record), get_passage (a passage and its neighbours), list_documents (provenance, as-of date, completeness).

    A desktop assistant starts this command itself: add it to the assistant's MCP configuration, e.g. {"mcpServers": {"regqa": {"command": "/path/to/.venv/bin/regqa", "args": ["mcp"], "env": {"REGQA_DATA_DIR": "/path/to/.regqa"}}}}

    `regqa serve` offers the same tools over streamable HTTP at /mcp.
    """
    from web.mcp_server import serve_stdio

    serve_stdio(_assistant(_settings()))


def main() -> None:
    """The `regqa` console script: the Typer app, with readable errors for a misconfigured Chroma."""
    from indexer.dense import ChromaUnavailable

    try:
        sys.exit(app())
    except ChromaUnavailable as exc:  # any command that opens the vectors
        console.print(f"[red]Chroma:[/red] {escape(str(exc))}")
        sys.exit(2)
