"""Copy the raw and rules tables of a DuckDB warehouse into Spark databases `raw` and `rules`
(through Parquet), so that dbt's sources resolve on Spark; drop what dbt built before.

    load_spark.py [WAREHOUSE]   (default: the portability check's reference warehouse)
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import duckdb
from spark_conf import session, work_dir

BUILT = ("staging", "intermediate", "ledger", "analytics")


def load(warehouse: Path, *, fresh: bool = True) -> dict[str, int]:
    """{schema.table: rows} of every raw and rules table copied into the Spark session's
    catalog, replacing the ones there. `fresh` also drops the schemas dbt builds (a first
    load); without it, what the nights built stays (new deliveries between two nights)."""
    parquet = Path(work_dir()) / "parquet"
    shutil.rmtree(parquet, ignore_errors=True)
    con = duckdb.connect(str(warehouse), read_only=True)
    tables = con.execute(
        "select table_schema, table_name from information_schema.tables "
        "where table_schema in ('raw', 'rules') and table_type = 'BASE TABLE' order by 1, 2"
    ).fetchall()
    counts = {}
    for schema, table in tables:
        (parquet / schema).mkdir(parents=True, exist_ok=True)
        con.execute(
            f"copy {schema}.{table} to '{parquet}/{schema}/{table}.parquet' (format parquet)"
        )
        counts[f"{schema}.{table}"] = con.execute(
            f"select count(*) from {schema}.{table}"
        ).fetchone()[0]
    con.close()

    spark = session()
    for schema in ("raw", "rules", *(BUILT if fresh else ())):
        spark.sql(f"drop database if exists {schema} cascade")
    for schema in ("raw", "rules"):
        spark.sql(f"create database {schema}")
    for schema, table in tables:
        frame = spark.read.parquet(f"{parquet}/{schema}/{table}.parquet")
        # DuckDB's TIMESTAMP (UTC by convention, no zone) arrives as timestamp_ntz; the models
        # compare with `timestamp` values in a UTC session: the same instants.
        for field in frame.schema.fields:
            if field.dataType.simpleString() == "timestamp_ntz":
                frame = frame.withColumn(field.name, frame[field.name].cast("timestamp"))
        frame.write.format("parquet").mode("overwrite").saveAsTable(f"{schema}.{table}")
        loaded = spark.table(f"{schema}.{table}").count()
        expected = counts[f"{schema}.{table}"]
        assert loaded == expected, (schema, table, loaded, expected)
    return counts


def main() -> None:
    default = Path(work_dir()) / "duckdb" / "partner_ledger.duckdb"
    counts = load(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
    session().stop()
    print(f"loaded {len(counts)} raw and rules tables into Spark")


if __name__ == "__main__":
    main()
