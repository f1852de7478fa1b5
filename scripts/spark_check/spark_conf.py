"""The local Spark session of the portability check; the same settings as the `spark` target
of profiles.yml (which dbt-spark reads), so the loader and the comparison see dbt's tables."""

from __future__ import annotations

import os


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
