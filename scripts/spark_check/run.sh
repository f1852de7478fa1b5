#!/usr/bin/env bash
# Portability check (docs/decisions/0011): build the attribution models of the demo year
# (dbt build --select +int_customers_attributed) on a local Spark session with dbt-spark, and
# compare the winners with DuckDB's, row for row. Not part of the test suite: it needs Java 17
# and installs its own environment (pyspark, ~320 MB) under $PARTNER_LEDGER_SPARK_DIR
# (default .spark/). About 5 minutes on 2 cores. Exits non-zero on any difference.
#
#   ./scripts/bootstrap.sh && ./scripts/spark_check/run.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/scripts/spark_check"
export PARTNER_LEDGER_SPARK_DIR=${PARTNER_LEDGER_SPARK_DIR:-$ROOT/.spark}
export TZ=UTC DBT_SEND_ANONYMOUS_USAGE_STATS=false
WORK=$PARTNER_LEDGER_SPARK_DIR
mkdir -p "$WORK"
command -v java >/dev/null || { echo "spark check: java (17) is required" >&2; exit 2; }

if [ ! -x "$WORK/venv/bin/dbt" ]; then
    python3.11 -m venv "$WORK/venv"
    "$ROOT/.venv/bin/uv" pip install --python "$WORK/venv/bin/python" -r "$HERE/requirements.txt" -q
fi

started=$(date +%s)
"$ROOT/.venv/bin/python" "$HERE/reference.py" "$WORK"
PYTHONPATH="$HERE" "$WORK/venv/bin/python" "$HERE/load_spark.py"
(cd "$ROOT" && "$WORK/venv/bin/dbt" build --target spark --profiles-dir . --project-dir . \
    --select +int_customers_attributed --vars '{"as_of": "2026-01-01"}' \
    --exclude-resource-type unit_test --target-path "$WORK/target_spark" --quiet)
PYTHONPATH="$HERE" "$WORK/venv/bin/python" "$HERE/compare.py"
echo "spark check: $(( $(date +%s) - started )) s after install"
