#!/usr/bin/env bash
# First command of the README: install (once), index the bundled corpus if it is missing or
# stale, then serve the chat and the answer API on localhost.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
export HF_HUB_OFFLINE=1
# Serve at once and index in the background: incremental (a no-op in about a second when
# nothing changed); on a first start answers begin while the corpus is still being embedded.
exec .venv/bin/regqa serve --index "$@"
