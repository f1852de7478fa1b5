#!/usr/bin/env bash
# The settlement on Spark at a generated size (docs/decisions/0028): the DuckDB cold run (as of
# 2025-12-31) and next night (2026-01-01, one more day of clicks) through the command line, as
# benchmarks/pipeline.py runs them; then the same two nights on a local Spark session
# (scripts/spark_check/settle_spark.py: load, the nights, the data tests, the comparison of every
# ledger and mart table). Prints the seconds of each step and Spark's peak RSS (driver JVM and
# Python). Needs Java 17.
#
#   benchmarks/spark.sh [S|M] [DIR]     (DIR default /tmp/partner-ledger-bench; landing reused)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SIZE=${1:-S}
DIR=${2:-/tmp/partner-ledger-bench}
HERE="$ROOT/scripts/spark_check"
python=$("$HERE/env.sh")
cd "$ROOT"
landing=$(PYTHONPATH="$ROOT:$ROOT/benchmarks" .venv/bin/python -c "
import sys; from pathlib import Path; import pipeline
print(pipeline.prepare_landing('$SIZE', Path('$DIR'), True))" | tail -1)
WORK="$DIR/$SIZE/spark"
rm -rf "$WORK" && mkdir -p "$WORK/session"
warehouse="$WORK/duckdb/partner_ledger.duckdb"
night() {
    /usr/bin/time -f "duckdb $1: wall %e s, cpu %U+%S s, peak rss %M KB" \
        .venv/bin/partner-ledger run --as-of "$1" --landing "$landing" --warehouse "$warehouse" \
        --out "$WORK/out" > "$WORK/duckdb-$1.log" 2>&1
    tail -1 "$WORK/duckdb-$1.log"
}
night 2025-12-31
cp "$warehouse" "$WORK/duckdb/after-the-cold-night.duckdb"  # what Spark's first night loads
PYTHONPATH="$ROOT:$ROOT/benchmarks" .venv/bin/python -c "
from pathlib import Path; import pipeline; pipeline.deliver_next_day(Path('$landing'))"
trap 'rm -f "$landing/tracking/clicks/bench-next-day.csv"' EXIT
night 2026-01-01
export PARTNER_LEDGER_SPARK_DIR="$WORK/session" TZ=UTC DBT_SEND_ANONYMOUS_USAGE_STATS=false
status=0
PYTHONPATH="$HERE" /usr/bin/time -f "spark: wall %e s, cpu %U+%S s, peak rss %M KB" \
    "$python" "$HERE/settle_spark.py" "$warehouse" "$WORK/report.json" \
    "2025-12-31=$WORK/duckdb/after-the-cold-night.duckdb" "2026-01-01=$warehouse" \
    > "$WORK/spark.log" 2>&1 || status=$?
tail -1 "$WORK/spark.log"
"$python" - "$WORK/report.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
nights = ", ".join(f"{night} {found['seconds']} s" for night, found in report["nights"].items())
rows = sum(found["rows"] for found in report["tables"].values())
differing = [t for t, found in report["tables"].items() if found["only_in_spark"] or found["only_in_duckdb"]]
print(f"spark: load {report['load_seconds']} s ({sum(report['load_rows'].values()):,} rows); "
      f"nights: {nights}; data tests {report.get('tests_seconds')} s; "
      f"comparison {report.get('compare_seconds')} s: {len(report['tables'])} tables, "
      f"{rows:,} rows, differing: {differing or 'none'}")
PY
exit $status
