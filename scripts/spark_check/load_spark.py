"""Copy the raw and rules tables of the DuckDB reference into Spark databases `raw` and `rules`
(through Parquet), so that dbt's sources resolve on Spark; drop what dbt built before."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
from spark_conf import session, work_dir


def main() -> None:
    work = Path(work_dir())
    parquet = work / "parquet"
    shutil.rmtree(parquet, ignore_errors=True)
    con = duckdb.connect(str(work / "duckdb" / "partner_ledger.duckdb"), read_only=True)
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
        counts[schema, table] = con.execute(f"select count(*) from {schema}.{table}").fetchone()[0]
    con.close()

    spark = session()
    for schema in ("raw", "rules", "staging", "intermediate", "analytics"):
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
        assert loaded == counts[schema, table], (schema, table, loaded, counts[schema, table])
    spark.stop()
    print(f"loaded {len(tables)} raw and rules tables into Spark")


if __name__ == "__main__":
    main()
