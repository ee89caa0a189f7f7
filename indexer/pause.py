"""Named pause points: where a crash or concurrency test holds an indexing run to kill it there.

A test cannot stop a process inside a window of microseconds (between a generation write and
the manifest commit, say) from outside, and racing a progress counter kills it somewhere
different on every machine. So the indexer calls `pause_point(name)` at each stage boundary that
matters for crash safety, and a test names the points it wants through two environment variables:

    REGQA_PAUSE_AT   comma-separated points, each `name` or `name:detail` (detail: e.g. a path)
    REGQA_PAUSE_DIR  a folder for the hand-shake files

At a listed point the process writes `<dir>/<name>.paused` (its pid) and a line
`REGQA-PAUSED <name>` on stderr, then waits until `<dir>/<name>.release` exists — or until it is
killed, which is the point. Each listed point holds once. Unset (always, outside tests) a call costs
one environment lookup. The points are not settings: nobody configures them to run RegQA.

Points: before-reading (detail: the file's path), after-first-upsert-batch,
before-manifest-commit, before-manifest-rename (commit record written, not yet renamed into
place), after-manifest-commit (committed, before the clean-up).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

POINTS = ("before-reading", "after-first-upsert-batch", "before-manifest-commit", "before-manifest-rename",
          "after-manifest-commit")
_held: set[str] = set()
_lock = threading.Lock()


def pause_point(name: str, detail: str | None = None) -> None:
    """Hold here if a test asked for `name` (or `name:detail`) through REGQA_PAUSE_AT."""
    spec = os.environ.get("REGQA_PAUSE_AT")
    if not spec:
        return
    assert name in POINTS, name
    wanted = {item.strip() for item in spec.split(",") if item.strip()}
    if name not in wanted and (detail is None or f"{name}:{detail}" not in wanted):
        return
    with _lock:
        if name in _held:
            return
        _held.add(name)
    folder = Path(os.environ.get("REGQA_PAUSE_DIR") or ".")
    folder.mkdir(parents=True, exist_ok=True)
    release = folder / f"{name}.release"
    (folder / f"{name}.paused").write_text(str(os.getpid()), encoding="utf-8")
    sys.stderr.write(f"\nREGQA-PAUSED {name}\n")
    sys.stderr.flush()
    # Waiting for a condition (the release file), not for a time: killed here, or let go.
    while not release.exists():
        time.sleep(0.05)
