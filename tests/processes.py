"""Real `regqa` subprocesses for the crash-safety and concurrency tests, and the corpus edits both
make.

A run is held at a named pause point of the code under test (indexer/pause.py): the test lists
the points in the environment, waits for the run to say it is holding there (a line on its
output, read as it arrives), then SIGKILLs it or lets it go on. Nothing waits on a clock or on a
progress count; the only time limits guard against a hang and fail with the output so far.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Self

import pytest

from regqa.config import Settings

from .conftest import CORPUS

REGQA = Path(sys.executable).with_name("regqa")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
HANG = 600  # seconds: only ever a guard against a hung process, never a speed requirement
NEW_SECTION = "§ 730.99"


# -- the corpus edits --------------------------------------------------------------------------

def change_corpus(corpus: Path) -> None:
    """One edited paragraph and one new section, one deleted and one added document."""
    part_730 = corpus / "us-ear" / "15-cfr-part-730.md"
    text = part_730.read_text(encoding="utf-8")
    assert "The core of the export control provisions" in text
    text = text.replace("The core of the export control provisions", "The central export control provisions")
    text += (f"\n## {NEW_SECTION} Crash-test section.\n\nThermal imaging cameras for border surveillance "
             "are described here only to test crash safety.\n")
    part_730.write_text(text, encoding="utf-8")
    (corpus / "eu-intl" / "uk-export-control-order-2008.md").unlink()
    name = "eu-2024-2659-cyber-surveillance-guidelines.md"
    shutil.copy2(CORPUS / "eu-intl" / name, corpus / "eu-intl" / name)


def write_register(corpus: Path, entries: int) -> None:
    """A real Markdown document of many one-line entries: many chunks, each cheap to embed."""
    lines = ["---", "id: synthetic-register", "title: Register of surveillance camera models",
             "cite_as: Synthetic Register", "doc_type: guidance", "jurisdiction: UK", "completeness: full",
             "---", "# Register of surveillance camera models", ""]
    for i in range(1, entries + 1):
        lines += [f"## Entry {i}", "", f"Camera model SR-{i} is a surveillance item listed for licensing.", ""]
    (corpus / "eu-intl" / "synthetic-register.md").write_text("\n".join(lines), encoding="utf-8")


# -- running regqa -----------------------------------------------------------------------------

def regqa_env(settings: Settings, *, pause: Sequence[str] = (), pause_dir: Path | None = None,
              **extra: str) -> dict[str, str]:
    """The environment of a `regqa` run on the test's data and corpus folders, optionally told to
    hold at the named pause points (hand-shake files in `pause_dir`)."""
    env = {**os.environ, "REGQA_DATA_DIR": str(settings.index_dir),
           "REGQA_CORPUS_DIR": str(settings.default_corpus), "COLUMNS": "200", **extra}
    env.pop("REGQA_PAUSE_AT", None)
    env.pop("REGQA_CHROMA_URL", None)
    if pause:
        assert pause_dir is not None, "a paused run needs a folder for its hand-shake files"
        pause_dir.mkdir(parents=True, exist_ok=True)
        env["REGQA_PAUSE_AT"] = ",".join(pause)
        env["REGQA_PAUSE_DIR"] = str(pause_dir)
    return env


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(REGQA), *args], capture_output=True, text=True, env=env, timeout=HANG, check=False)


def cli_json(*args: str, env: dict[str, str], code: int = 0) -> dict:
    result = cli(*args, "--json", env=env)
    assert result.returncode == code, result.stdout + result.stderr
    return json.loads(result.stdout)


class Watched:
    """A running `regqa` subprocess whose output is read line by line as it arrives; it can be
    waited on at a pause point, then killed or released there."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.pause_dir = Path(env["REGQA_PAUSE_DIR"]) if env.get("REGQA_PAUSE_AT") else None
        self.process = subprocess.Popen([str(REGQA), *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, env=env, text=True)
        self.lines: list[str] = []
        self._done = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(ANSI.sub("", line))
                self._changed.notify_all()
        with self._changed:
            self._done = True
            self._changed.notify_all()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, found: Callable[[str], bool], what: str) -> str:
        """The first output line for which `found` holds; fails if the process ends first."""
        deadline = time.monotonic() + HANG
        seen = 0
        with self._changed:
            while True:
                for line in self.lines[seen:]:
                    if found(line):
                        return line
                seen = len(self.lines)
                if self._done:
                    pytest.fail(f"regqa ended (exit {self.process.wait()}) without reaching {what}:\n"
                                f"{self.output[-3000:]}")
                if time.monotonic() > deadline:
                    self.process.kill()
                    pytest.fail(f"regqa hung for {HANG} s before {what}:\n{self.output[-3000:]}")
                self._changed.wait(timeout=1)

    def wait_paused(self, point: str) -> None:
        """Until the run says it is holding at `point` (indexer/pause.py)."""
        assert self.pause_dir is not None, "this run was not told to pause"
        self.wait_for(lambda line: line.strip() == f"REGQA-PAUSED {point}", f"the pause point {point!r}")
        assert (self.pause_dir / f"{point}.paused").read_text() == str(self.process.pid)

    def release(self, point: str) -> None:
        assert self.pause_dir is not None
        (self.pause_dir / f"{point}.release").touch()

    def finish(self) -> int:
        """The exit code, once the run has ended (a hang fails the test)."""
        try:
            code = self.process.wait(timeout=HANG)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"regqa hung for {HANG} s:\n{self.output[-3000:]}")
        self._reader.join(timeout=60)
        return code

    def sigkill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        assert self.finish() == -signal.SIGKILL

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        """Never leave a held or running subprocess behind, whatever the test did."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=60)
