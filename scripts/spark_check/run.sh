#!/usr/bin/env bash
# The Spark settlement check (docs/decisions/0011, 0028): the demo program settled night by night
# on DuckDB (the nightly build), then the same raw and rules tables settled night by night on a
# local Spark session with dbt-spark, and every table of the ledger and the marts compared row
# for row. Needs Java 17; installs its own environment once (scripts/spark_check/env.sh).
# Exits non-zero on any difference.
#
#   ./scripts/bootstrap.sh && ./scripts/spark_check/run.sh [FIRST_NIGHT LAST_NIGHT]
#
# Default: the demo's first quarter, 2025-01-02 to 2025-04-01 (90 nights, three closes).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/scripts/spark_check"
FIRST=${1:-2025-01-02}
LAST=${2:-2025-04-01}
export PARTNER_LEDGER_SPARK_DIR=${PARTNER_LEDGER_SPARK_DIR:-$ROOT/.spark/run}
export TZ=UTC DBT_SEND_ANONYMOUS_USAGE_STATS=false
command -v java >/dev/null || { echo "spark check: java (17) is required" >&2; exit 2; }
python=$("$HERE/env.sh")
WORK=$PARTNER_LEDGER_SPARK_DIR
mkdir -p "$WORK"

started=$(date +%s)
"$ROOT/.venv/bin/python" "$HERE/reference.py" "$WORK" "$FIRST" "$LAST"
duckdb_done=$(date +%s)
status=0
# shellcheck disable=SC2046
PYTHONPATH="$HERE" "$python" "$HERE/settle_spark.py" "$WORK/duckdb/partner_ledger.duckdb" \
    "$WORK/report.json" $(cat "$WORK/nights.txt") || status=$?
PYTHONPATH="$HERE" "$python" - "$WORK/report.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
nights = report["nights"]
print(f"spark: load {report['load_seconds']} s; {len(nights)} nights in "
      f"{sum(n['seconds'] for n in nights.values()):.0f} s; data tests {report.get('tests_seconds')} s")
for table, found in sorted(report["tables"].items()):
    print(f"  {table}: {found['rows']:,} rows; only in Spark {found['only_in_spark']}, "
          f"only in DuckDB {found['only_in_duckdb']}")
print("spark check:", "agrees" if report["success"] else "DIFFERS")
PY
echo "spark check: DuckDB $((duckdb_done - started)) s, Spark $(( $(date +%s) - duckdb_done )) s"
exit $status
