"""The first start prints what a user needs and nothing else.

A real `regqa index` in a fresh process, with a fresh model cache so that the int8 model is
exported (torch's ONNX exporter and onnxruntime's optimiser and quantiser all run, as on a new
machine), over one small real document. The terminal must show one line for the model, the
summary and where the log is; no exporter warning, no library DEBUG line. REGQA_LOG_LEVEL=debug
must bring the libraries' DEBUG lines back, so the quiet is configuration, not missing events.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import CORPUS

pytestmark = pytest.mark.slow

REGQA = Path(sys.executable).with_name("regqa")
NOISE = ("warning", "debug", "tracer", "aten::", "pre-processing", "traceback", "deprecat")


def _index(env: dict[str, str], *args: str) -> list[str]:
    result = subprocess.run([str(REGQA), "index", *args], capture_output=True, text=True, env=env,
                            timeout=1800, check=False)  # a guard against a hang only
    assert result.returncode == 0, result.stdout + result.stderr
    return [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]


def test_the_first_index_prints_no_library_noise(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "us-ear").mkdir(parents=True)
    shutil.copy2(CORPUS / "us-ear" / "15-cfr-part-736.md", corpus / "us-ear")
    data = tmp_path / "data"
    env = {**os.environ, "REGQA_DATA_DIR": str(data), "REGQA_CORPUS_DIR": str(corpus),
           "REGQA_MODEL_CACHE_DIR": str(tmp_path / "models"), "COLUMNS": "100"}
    for name in ("REGQA_LOG_LEVEL", "REGQA_CHROMA_URL", "REGQA_EMBEDDING_BACKEND", "PYTHONWARNINGS"):
        env.pop(name, None)

    lines = _index(env)
    log = data / "logs" / "regqa.log"
    assert lines[0] == "preparing the embedding model (once, about 20 s)…", lines
    assert lines[1].startswith("Index updated: 1 documents, ") and lines[1].endswith(f"→ {data}"), lines
    assert lines[2:] == [f"Details and library warnings: {log}"], lines
    assert not [line for line in lines[:2] if any(word in line.lower() for word in NOISE)]
    assert "preparing the embedding model" in log.read_text(encoding="utf-8")

    # The libraries did speak: at debug their lines reach the terminal (and the model is not
    # prepared twice).
    debug = _index({**env, "REGQA_LOG_LEVEL": "debug"}, "--rebuild")
    assert any(line.startswith("DEBUG bm25s:") for line in debug), debug
    assert not any("preparing the embedding model" in line for line in debug)
