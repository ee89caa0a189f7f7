#!/usr/bin/env bash
# First command of the README: install (once), index the bundled corpus if it is missing or
# stale, then serve the chat and the answer API on localhost.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/bootstrap.sh
export HF_HUB_OFFLINE=1
# Incremental: a no-op in about a second when nothing changed.
.venv/bin/regqa index
exec .venv/bin/regqa serve "$@"
