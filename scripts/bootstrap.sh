#!/usr/bin/env bash
# Installs partner-ledger into ./.venv from the lock file: a fresh machine needs only Python 3.11
# and the package registries. Safe to run again (it reuses the venv and installs what changed).
set -euo pipefail
cd "$(dirname "$0")/.."
python_bin="${PYTHON:-$(command -v python3.11 || command -v python3)}"
if [ ! -x .venv/bin/python ]; then
    "$python_bin" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
.venv/bin/uv pip install --quiet -p .venv/bin/python -r requirements.lock
.venv/bin/uv pip install --quiet -p .venv/bin/python --no-deps -e .
