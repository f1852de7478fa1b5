#!/usr/bin/env bash
# The Spark environment (docs/decisions/0011, 0028): dbt-spark with an in-process local Spark
# session (pyspark, ~320 MB), in a venv of its own beside the project's so that the embedded
# DuckDB install carries none of it. Installed from requirements.lock, once; safe to run again.
# Prints the environment's python. Needs Java 17 to run Spark, not to install.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/scripts/spark_check"
VENV="$ROOT/.spark/venv"
stamp="$VENV/.lock-$(sha256sum "$HERE/requirements.lock" | cut -c1-16)"
if [ ! -e "$stamp" ]; then
    rm -rf "$VENV"
    python_bin="${PYTHON:-$(command -v python3.11 || command -v python3)}"
    "$python_bin" -m venv "$VENV"
    "$ROOT/.venv/bin/uv" pip install --quiet -p "$VENV/bin/python" -r "$HERE/requirements.lock"
    touch "$stamp"
fi
echo "$VENV/bin/python"
