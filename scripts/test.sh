#!/usr/bin/env bash
# Second command of the README: install (once) and run the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
# The browser test drives Debian's Chromium; install it where we may (root with apt). In CI
# (CI=true) a missing browser is an error, here and in the test: the chat must not go untested.
no_chromium() {
  if [ "${CI:-}" = true ]; then
    echo "ERROR: $1; CI=true needs chromium for the browser test" >&2
    exit 1
  fi
  echo "==> $1; the browser test will be skipped with a reason"
}
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "==> installing Debian's chromium for the browser test"
    apt_log="$(mktemp)"
    if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >"$apt_log" 2>&1; then
      tail -n 20 "$apt_log" >&2
      rm -f "$apt_log"
      no_chromium "could not install chromium with apt-get"
    fi
    rm -f "$apt_log"
  else
    no_chromium "chromium is not installed and cannot be installed here (needs root and apt-get)"
  fi
fi
# Dependency audit: fails on a known vulnerability that has a fix; says so when the
# vulnerability service cannot be reached (as on offline machines) instead of passing silently.
./scripts/audit.sh
export HF_HUB_OFFLINE=1
exec .venv/bin/python -m pytest "$@"
