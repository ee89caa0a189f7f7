"""How far the running (or last) indexing run got, in a small file beside the manifest.

The server, the chat and `regqa status` read it to say "reading documents 12/32" or "index
warming up: 43 %" while another process indexes; the reader reads it to know when new vectors
have arrived. It is a report, never a commit point: the manifest alone says what is indexed.
Written atomically (temp file + rename) at most a few times a second.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

FILE_NAME = "progress.json"
STAGE_NAMES = {"scan": "reading documents", "chunk": "chunking", "embed": "embedding passages",
               "write": "writing the index", "done": "finished", "failed": "stopped"}


@dataclass
class IndexProgress:
    pid: int
    stage: str = "scan"
    done: int = 0
    total: int = 0
    started_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    # Vectors stored in Chroma for the committed chunks, of how many (the dense warm-up).
    vectors: int = 0
    chunks: int = 0
    message: str = ""

    @property
    def finished(self) -> bool:
        return self.stage in ("done", "failed")

    @property
    def alive(self) -> bool:
        """The run is still going: not finished, and its process exists."""
        if self.finished:
            return False
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        try:  # a zombie (ended, not yet reaped) answers kill(pid, 0) too
            return Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return True

    def describe(self) -> str:
        """`embedding passages 2,560/10,981 (23 %)` — for people."""
        name = STAGE_NAMES.get(self.stage, self.stage)
        if self.total:
            return f"{name} {self.done:,}/{self.total:,} ({100 * self.done // max(1, self.total)} %)"
        return name

    # -- the file ----------------------------------------------------------------------------

    @classmethod
    def running(cls, root: Path) -> IndexProgress | None:
        """The report of a run that is still going, else None."""
        progress = cls.read(root)
        return progress if progress is not None and progress.alive else None

    @staticmethod
    def path(root: Path) -> Path:
        return root / FILE_NAME

    @classmethod
    def read(cls, root: Path) -> IndexProgress | None:
        try:
            data = json.loads(cls.path(root).read_text(encoding="utf-8"))
            return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})
        except (OSError, ValueError, TypeError):
            return None  # absent, or half-written by a crashed older version: nothing to report

    def write(self, root: Path) -> None:
        self.updated_at = time.time()
        root.mkdir(parents=True, exist_ok=True)
        tmp = root / f".{FILE_NAME}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps(asdict(self)), encoding="utf-8")
        os.replace(tmp, self.path(root))


class ProgressRecorder:
    """Wraps an indexing progress callback: passes every call on and keeps the file current,
    rewriting it on a stage change and otherwise at most every `interval` seconds."""

    def __init__(self, root: Path, inner: Callable[[str, int, int], None], interval: float = 0.5) -> None:
        self.root = root
        self.inner = inner
        self.interval = interval
        self.state = IndexProgress(pid=os.getpid())
        self._written = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        self.inner(stage, done, total)
        changed = stage != self.state.stage
        self.state.stage, self.state.done, self.state.total = stage, done, total
        self._flush(force=changed or done == total)

    def vectors(self, stored: int, chunks: int) -> None:
        """The committed chunks that have a vector so far: the reader loads them as they come."""
        self.state.vectors, self.state.chunks = stored, chunks
        self._flush(force=True)

    def finish(self, stage: str, message: str = "") -> None:
        self.state.stage, self.state.message = stage, message
        self._flush(force=True)

    def _flush(self, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._written >= self.interval:
            try:
                self.state.write(self.root)
            except OSError:
                pass  # a report only: a full disk must not fail the indexing run over it
            self._written = now
