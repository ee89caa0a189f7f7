#!/usr/bin/env bash
# Create the project's own virtualenv (.venv/) and install RegQA into it, once.
# Re-installs only when pyproject.toml changes, so repeated runs cost a second.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON_BIN="${PYTHON:-}"
if [ -z "$PYTHON_BIN" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then PYTHON_BIN="$candidate"; break; fi
  done
fi
if ! "$PYTHON_BIN" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
  echo "RegQA needs Python 3.11; found $("$PYTHON_BIN" --version 2>&1). Set PYTHON=/path/to/python3.11." >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv with $("$PYTHON_BIN" --version)"
  "$PYTHON_BIN" -m venv .venv
fi

stamp=.venv/.regqa-install-stamp
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  pip_args=(--disable-pip-version-check --progress-bar off -q)
  # This machine keeps a CPU wheel of torch on disk; a plain `torch` would pull a CUDA build.
  [ -d /opt/wheels ] && pip_args+=(--find-links /opt/wheels)
  # This machine's pip configuration names index folders that may be absent; hide that noise.
  quiet() { "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }; }
  echo "==> installing CPU torch 2.13.0 into .venv"
  quiet .venv/bin/pip install "${pip_args[@]}" "torch==2.13.0"
  echo "==> installing RegQA and its dependencies into .venv (a few minutes the first time)"
  quiet .venv/bin/pip install "${pip_args[@]}" -e ".[dev]"
  echo "$want" > "$stamp"
fi
