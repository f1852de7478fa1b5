"""Probe the ledger's contract on Spark: put a null into a not-null column of a store that
settle_spark.py built, run that model again, and report whether dbt refused it.

    contract_probe.py TABLE COLUMN NIGHT REPORT

Runs in the Spark environment, on the session state of $PARTNER_LEDGER_SPARK_DIR. Writes
REPORT (JSON): the model's success and dbt's messages. `settle_spark.py --probe TABLE:COLUMN`
runs the same probe in the settling process, after the comparison (tests/test_spark.py), which
spares a second JVM and dbt parse (about 30 s).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from spark_conf import run_dbt, session


def probe(table: str, column: str, night: str) -> dict:
    """Poisons TABLE (a null in COLUMN), runs its model as of NIGHT; dbt's success and
    messages."""
    from pyspark.sql.functions import lit

    spark = session()
    stored = spark.table(table)
    poisoned = stored.limit(1).withColumn(column, lit(None).cast(stored.schema[column].dataType))
    poisoned.write.insertInto(table)
    os.environ["PARTNER_LEDGER_AS_OF"] = night
    result = run_dbt(["run", "--select", table.split(".")[1]])
    messages = [str(node.message or "") for node in (result.result or [])]
    return {"success": result.success, "messages": messages}


def main(table: str, column: str, night: str, report: Path) -> None:
    report.write_text(json.dumps(probe(table, column, night)) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], Path(sys.argv[4]))
