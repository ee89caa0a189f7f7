#!/usr/bin/env bash
# Dependency audit: pip-audit over the packages installed in .venv/ (RegQA itself excluded).
#
#   ./scripts/audit.sh             fail (exit 1) only for known vulnerabilities that have a fixed
#                                  version; list those without a fix as warnings
#   ./scripts/audit.sh --require   also fail (exit 2) when the audit could not be done at all
#
# pip-audit needs its vulnerability service over the network: PyPI's per-version JSON API
# (default) or OSV (REGQA_AUDIT_SERVICE=osv). Where that service is unreachable, or answers
# "not found" for every installed version, pip-audit alone reports "No known vulnerabilities
# found" and exits 0 although it checked nothing; this script says so instead.
set -euo pipefail
cd "$(dirname "$0")/.."

require=0
[ "${1:-}" = "--require" ] && require=1
[ "${REGQA_AUDIT_REQUIRED:-0}" = 1 ] && require=1
service="${REGQA_AUDIT_SERVICE:-pypi}"

if [ -z "${REGQA_AUDIT_REPORT:-}" ] && [ ! -x .venv/bin/pip-audit ]; then
  echo "audit: pip-audit is not installed in .venv; run ./scripts/bootstrap.sh (it installs the dev extra)" >&2
  exit 2
fi

log="$(mktemp)"
if [ -n "${REGQA_AUDIT_REPORT:-}" ]; then  # judge a saved `pip-audit --format json` report instead
  report="$REGQA_AUDIT_REPORT"
  trap 'rm -f "$log"' EXIT
else
  report="$(mktemp)"
  trap 'rm -f "$report" "$log"' EXIT
  set +e
  .venv/bin/pip-audit --local --skip-editable --progress-spinner off --vulnerability-service "$service" \
    --timeout 20 --format json --output "$report" >"$log" 2>&1
  set -e
fi

REQUIRE="$require" SERVICE="$service" LOG="$log" .venv/bin/python - "$report" <<'PY'
"""Read pip-audit's JSON: exit 1 for fixable findings; 2 (with --require) when nothing was audited."""
import json
import os
import sys

require, service = os.environ["REQUIRE"] == "1", os.environ["SERVICE"]
try:
    with open(sys.argv[1], encoding="utf-8") as handle:
        dependencies = json.load(handle)["dependencies"]
except (OSError, ValueError, KeyError):
    with open(os.environ["LOG"], encoding="utf-8", errors="replace") as handle:
        lines = [line for line in handle.read().splitlines() if line.strip()]
    print(f"audit NOT DONE: pip-audit could not query the {service} vulnerability service:")
    print("  " + (lines[-1] if lines else "no output"))
    sys.exit(2 if require else 0)

skipped = [d for d in dependencies if d.get("skip_reason")]
audited = [d for d in dependencies if not d.get("skip_reason")]
fixable, unfixed = [], []
for dep in audited:
    for vuln in dep.get("vulns", []):
        row = f"{dep['name']} {dep['version']}: {vuln['id']}"
        if vuln.get("fix_versions"):
            fixable.append(f"{row} (fixed in {', '.join(vuln['fix_versions'])})")
        else:
            unfixed.append(f"{row} (no fixed version yet)")

print(f"audit ({service}): {len(audited)} installed packages checked, {len(skipped)} could not be checked")
for row in unfixed:
    print(f"  warning: {row}")
for row in fixable:
    print(f"  VULNERABLE: {row}")
if skipped and len(skipped) <= 10:
    for dep in skipped:
        print(f"  not checked: {dep['skip_reason']}")
if fixable:
    print(f"audit FAILED: {len(fixable)} known vulnerabilities have a fixed version; upgrade those packages")
    sys.exit(1)
if not audited:
    print(f"audit NOT DONE: the {service} service could not check any installed version "
          f"(e.g. '{skipped[0]['skip_reason']}'); it is unreachable or incomplete from here" if skipped else
          "audit NOT DONE: no installed packages were found")
    sys.exit(2 if require else 0)
print("audit passed: no known vulnerability with a fix available")
PY
