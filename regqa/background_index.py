"""`regqa serve --index`: bring the index up to date in a child process while the server runs.

A child process, not a thread: chunking is pure Python and would hold the server's GIL, and on
a first start it runs beside the server's own model preparation on the other core. The child is
an ordinary `regqa index` run (same settings, same lock, same crash safety); it commits chunks
and BM25 before it embeds (a warm start, see indexer/pipeline.py), so answers begin within
seconds and dense search fills in as vectors are stored. Its output goes to a log file; the
server prints one line when it ends."""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

BUSY = 75  # `regqa index` exit code when another run holds the index
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the server dies. uvicorn re-raises the signal that
    stopped it once it has shut down, so the server process ends without running its own clean-up;
    the kernel then stops the child (Linux; elsewhere `stop()` covers the ordinary exits)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class BackgroundIndexer:
    def __init__(self, log_path: Path, report: Callable[[str], None]) -> None:
        self.log_path = log_path
        self.report = report
        self.process: subprocess.Popen[bytes] | None = None
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        try:
            self.process = subprocess.Popen([sys.executable, "-m", "regqa", "index"], stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)
        finally:
            log.close()  # the child holds its own descriptor
        self._watcher = threading.Thread(target=self._watch, name="regqa-index-watch", daemon=True)
        self._watcher.start()

    def stop(self) -> None:
        """Stop a run still going when the server stops; the next start picks up where it was
        (its stored vectors are kept), so nothing is lost."""
        process = self.process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)  # a guard against a hung child only
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _watch(self) -> None:
        assert self.process is not None
        code = self.process.wait()
        if code == 0:
            self.report(f"Index up to date ({self._last_line()}).")
        elif code == BUSY:
            self.report("Another indexing run is writing the index; serving what it has committed.")
        elif code < 0:
            return  # stopped by `stop()` at shutdown
        else:
            self.report(f"[red]Indexing failed[/red] (exit code {code}); see {self.log_path}. "
                        "The server keeps answering from the committed index.")

    def _last_line(self) -> str:
        try:
            lines = [ln for ln in self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()
                     if ln.startswith("Index ")]
        except OSError:
            return "see the log"
        return lines[-1].rstrip(".") if lines else "see the log"
