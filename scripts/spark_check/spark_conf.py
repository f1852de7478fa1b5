"""The local Spark session of the portability check; the same settings as the `spark` target
of profiles.yml (which dbt-spark reads), so the loader and the comparison see dbt's tables. And
dbt on that target, in this process (settle_spark.py, contract_probe.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def work_dir() -> str:
    return os.environ["PARTNER_LEDGER_SPARK_DIR"]


def session():
    from pyspark.sql import SparkSession

    work = work_dir()
    conf = {
        "spark.master": "local[2]",
        "spark.driver.memory": "4g",
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.warehouse.dir": f"{work}/spark-warehouse",
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={work}/metastore_db;create=true"
        ),
        "spark.sql.shuffle.partitions": "4",
        "spark.ui.enabled": "false",
        "spark.sql.legacy.createHiveTableByDefault": "false",
        "spark.driver.extraJavaOptions": f"-Dderby.stream.error.file={work}/derby.log",
    }
    builder = SparkSession.builder.enableHiveSupport()
    for key, value in conf.items():
        builder = builder.config(key, value)
    return builder.getOrCreate()


ROOT = Path(__file__).resolve().parents[2]


def run_dbt(args: list[str]):
    """dbt in this process on the Spark target (the session's state under
    $PARTNER_LEDGER_SPARK_DIR); prints dbt's exception, if any. Returns dbt's result."""
    from dbt.cli.main import dbtRunner

    target = Path(work_dir()) / "target_spark"
    result = dbtRunner().invoke(
        [
            *args,
            "--target",
            "spark",
            "--project-dir",
            str(ROOT),
            "--profiles-dir",
            str(ROOT),
            "--target-path",
            str(target),
            "--log-path",
            str(target / "logs"),
            "--quiet",
        ]
    )
    if result.exception is not None:
        print(f"dbt {args[0]}: {result.exception}", file=sys.stderr, flush=True)
    return result
