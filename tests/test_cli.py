"""The `regqa` command line, run as a user runs it (a real subprocess of the installed script)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REGQA = Path(sys.executable).with_name("regqa")


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(REGQA), *args], capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "REGQA_DATA_DIR": str(tmp_path / "data"), "COLUMNS": "200"}


def test_help_explains_the_commands(env: dict[str, str]) -> None:
    result = run("--help", env=env)
    assert result.returncode == 0
    for command in ("index", "docs", "remove", "status"):
        assert command in result.stdout
    index_help = run("index", "--help", env=env).stdout
    assert "--rebuild" in index_help and "unchanged" in index_help


@pytest.mark.slow
def test_index_then_docs_json(env: dict[str, str], small_corpus: Path) -> None:
    """On the defaults, as a user runs it: bundled documents take the shipped vectors (the
    embedding path is tested in test_index.py and test_first_start.py)."""
    env = {**env, "REGQA_BUNDLED_VECTORS": "true"}
    result = run("index", str(small_corpus), str(small_corpus / "missing.md"), env=env)
    assert result.returncode == 2 and "no such file" in result.stderr
    (small_corpus / "bad.pdf").write_bytes(b"not a pdf")
    result = run("index", str(small_corpus), "--json", env=env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["documents"] == 5 and summary["chunks"] > 500
    assert (summary["chunks_embedded"], summary["chunks_from_bundled_vectors"]) == (0, summary["chunks"])
    assert summary["skipped"] == [{"path": str(small_corpus / "bad.pdf"), "reason": "not a PDF file (no %PDF- header)"}]

    docs = json.loads(run("docs", "--json", env=env).stdout)
    assert len(docs) == 5
    for doc in docs:
        for key in ("id", "cite_as", "doc_type", "jurisdiction", "as_of", "completeness", "chunks"):
            assert key in doc
        assert doc["completeness"] == "partial" and doc["chunks"] > 0
    reg = next(d for d in docs if d["id"] == "eu-2021-821-dual-use-regulation")
    assert reg["cite_as"] == "Regulation (EU) 2021/821" and reg["jurisdiction"] == "EU"

    again = run("index", str(small_corpus), env=env)
    assert "already up to date" in again.stderr and "0 chunks embedded" in again.stderr
    assert "Documents: 5 (5 partial)" in run("status", env=env).stdout
    removed = run("remove", "15-cfr-part-730", env=env)
    assert removed.returncode == 0 and "15-cfr-part-730" in removed.stderr
    assert run("remove", "no-such-doc", env=env).returncode == 1


def test_status_without_an_index_says_what_to_do(env: dict[str, str]) -> None:
    result = run("status", env=env)
    assert result.returncode == 1 and "regqa index" in result.stderr
