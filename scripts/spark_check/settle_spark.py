"""Settle on Spark, night by night, what a DuckDB warehouse settled, and compare the two.

    settle_spark.py [--probe TABLE:COLUMN] WAREHOUSE REPORT NIGHT[=SNAPSHOT] [NIGHT[=SNAPSHOT] ...]

Runs in the Spark environment (scripts/spark_check/env.sh), in one process: one local Spark
session (dbt-spark's session method) serves the load, every night's dbt run and the comparison.

1. The raw and rules tables of WAREHOUSE (a DuckDB file whose nights have run) are copied into
   Spark (load_spark.py); what dbt built on Spark before is dropped. A night written
   NIGHT=SNAPSHOT first replaces them with those of SNAPSHOT, a copy of the DuckDB warehouse
   taken after that night's ingest: deliveries that arrived between nights reach Spark when
   they reached DuckDB.
2. Each NIGHT is a `dbt run --target spark` of the whole model graph, its as-of in the
   environment as the flows pass it (no re-parse per night). The ledger's stores are
   incremental on Spark too: appended to, never rebuilt (docs/decisions/0028).
3. After the last night, `dbt test --target spark` runs the data tests on Spark's tables.
4. Every table of the ledger and marts is compared with WAREHOUSE's, row for row on every column
   (compare_all.py), and the ledger's sums per partner and entry type are read from Spark.

5. With --probe, last, a null is put into COLUMN of the store TABLE and its model run again
   (contract_probe.py): REPORT's "probe" says whether dbt refused it, and why. It poisons
   Spark's ledger, so it runs after everything else.

REPORT (JSON) holds the seconds of each step, the comparison per table and Spark's sums.
Exits non-zero when a night or a test fails or a table differs (not when the probe's model
fails: that is what a probe expects).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from compare_all import compare
from load_spark import load
from spark_conf import run_dbt, session


def main(
    warehouse: Path, report_path: Path, nights: list[str], probe: tuple[str, str] | None = None
) -> int:
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    report: dict = {"nights": {}, "tables": {}}
    started = time.monotonic()
    snapshots = dict(night.partition("=")[::2] for night in nights)
    first = snapshots[next(iter(snapshots))]
    report["load_rows"] = load(Path(first) if first else warehouse)
    report["load_seconds"] = round(time.monotonic() - started, 1)
    ok = True
    for number, (night, snapshot) in enumerate(snapshots.items()):
        started = time.monotonic()
        if snapshot and number > 0:
            load(Path(snapshot), fresh=False)
        os.environ["PARTNER_LEDGER_AS_OF"] = night
        night_ok = run_dbt(["run"]).success
        report["nights"][night] = {
            "seconds": round(time.monotonic() - started, 1),
            "success": night_ok,
        }
        print(
            f"spark night {night}: {'ok' if night_ok else 'FAILED'} "
            f"in {report['nights'][night]['seconds']} s",
            flush=True,
        )
        if not night_ok:
            ok = False
            break
    if ok:
        started = time.monotonic()
        report["tests_success"] = run_dbt(["test", "--exclude-resource-type", "unit_test"]).success
        report["tests_seconds"] = round(time.monotonic() - started, 1)
        ok = report["tests_success"]
        started = time.monotonic()
        for table, (total, only_spark, only_duckdb) in compare(warehouse).items():
            report["tables"][table] = {
                "rows": total,
                "only_in_spark": only_spark,
                "only_in_duckdb": only_duckdb,
            }
            ok = ok and only_spark == only_duckdb == 0
        report["compare_seconds"] = round(time.monotonic() - started, 1)
        spark = session()
        report["ledger_totals"] = [
            [partner, entry_type, int(total)]
            for partner, entry_type, total in spark.sql(
                "select partner_id, entry_type, sum(amount_cents) "
                "from analytics.fct_ledger_entries group by partner_id, entry_type "
                "order by partner_id, entry_type"
            ).collect()
        ]
    report["success"] = ok
    if ok and probe is not None:
        from contract_probe import probe as contract_probe

        started = time.monotonic()
        report["probe"] = contract_probe(*probe, night=list(snapshots)[-1])
        report["probe_seconds"] = round(time.monotonic() - started, 1)
    report_path.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    arguments = sys.argv[1:]
    probed = None
    if arguments[:1] == ["--probe"]:
        table, _, column = arguments[1].rpartition(":")
        probed, arguments = (table, column), arguments[2:]
    sys.exit(main(Path(arguments[0]), Path(arguments[1]), arguments[2:], probed))
