"""Every table of the ledger and the marts Spark built against DuckDB's, row for row on
every column. Each value is compared as text: timestamps to the microsecond (UTC), decimals with
their scale, booleans as true/false. Prints one line per table; exits non-zero on a difference.

    compare_all.py DUCKDB_FILE [SCHEMA.TABLE ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
from spark_conf import session, work_dir

# DuckDB's schema -> Spark's: the marts and exports are in the target's schema, `main` on
# DuckDB and `analytics` on Spark (profiles.yml)
SCHEMAS = {"ledger": "ledger", "main": "analytics"}


def _duckdb_text(name: str, data_type: str) -> str:
    if data_type.startswith("TIMESTAMP"):
        return f"strftime({name}, '%Y-%m-%d %H:%M:%S.%f')"
    if data_type == "BOOLEAN":
        return f"case when {name} then 'true' when not {name} then 'false' end"
    return f"cast({name} as varchar)"


def _spark_text(name: str, data_type: str) -> str:
    if data_type.startswith("timestamp"):
        return f"date_format({name}, 'yyyy-MM-dd HH:mm:ss.SSSSSS')"
    return f"cast({name} as string)"


def compare(reference: Path, tables: list[str] | None = None) -> dict[str, tuple[int, int, int]]:
    """{table: (DuckDB rows, rows only in Spark, rows only in DuckDB)}. A table or a column
    Spark lacks stops the comparison (Spark's error, or the missing columns named)."""
    work = Path(work_dir())
    con = duckdb.connect()
    # attached under its file's name, which its views name their tables with
    ref = reference.stem
    con.execute(f"attach '{reference}' as \"{ref}\" (read_only)")
    listed = con.execute(
        "select table_schema || '.' || table_name from information_schema.tables "
        f"where table_catalog = '{ref}' and table_schema in {tuple(SCHEMAS)} order by 1"
    ).fetchall()
    names = tables or [name for (name,) in listed]
    spark = session()
    exported = work / "compare"
    results = {}
    for table in names:
        schema, name = table.split(".")
        spark_table = f"{SCHEMAS[schema]}.{name}"
        columns = con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_catalog = ? and table_schema = ? and table_name = ? "
            "order by ordinal_position",
            [ref, schema, name],
        ).fetchall()
        spark_types = {
            field.name: field.dataType.simpleString() for field in spark.table(spark_table).schema
        }
        missing = [column for column, _ in columns if column not in spark_types]
        if missing:
            raise SystemExit(f"{table}: Spark has no column {', '.join(missing)}")
        path = exported / f"{table}.parquet"
        spark.sql(
            "select "
            + ", ".join(f"{_spark_text(c, spark_types[c])} as {c}" for c, _ in columns)
            + f" from {spark_table}"
        ).coalesce(1).write.mode("overwrite").parquet(str(path))
        listed_columns = ", ".join(c for c, _ in columns)
        duckdb_rows = (
            "select "
            + ", ".join(f"{_duckdb_text(c, t)} as {c}" for c, t in columns)
            + f' from "{ref}".{table}'
        )
        spark_rows = f"select {listed_columns} from read_parquet('{path}/*.parquet')"
        total, only_spark, only_duckdb = con.execute(
            f"""
            select
                (select count(*) from "{ref}".{table}),
                (select count(*) from ({spark_rows} except all {duckdb_rows})),
                (select count(*) from ({duckdb_rows} except all {spark_rows}))
            """
        ).fetchone()
        results[table] = (total, only_spark, only_duckdb)
    return results


def main() -> int:
    reference = Path(sys.argv[1])
    results = compare(reference, sys.argv[2:] or None)
    session().stop()
    differing = 0
    for table, (total, only_spark, only_duckdb) in results.items():
        flag = "" if only_spark == only_duckdb == 0 else "  DIFFERENT"
        differing += bool(flag)
        print(
            f"{table}: {total:,} rows; only in Spark {only_spark}, only in DuckDB {only_duckdb}{flag}"
        )
    print(f"{len(results)} tables, {differing} with differences")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
