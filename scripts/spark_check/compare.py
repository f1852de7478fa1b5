"""The winners Spark built (intermediate.int_customers_attributed) against DuckDB's, row for row
on every column; touched_at and converted_at compared as text to the microsecond (UTC)."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
from spark_conf import session, work_dir

COLUMNS = ("program_id", "customer_key", "partner_id", "touch_source", "touch_id")
TIMES = ("touched_at", "converted_at")


def main() -> int:
    work = Path(work_dir())
    spark = session()
    selected = ", ".join(
        [*COLUMNS, *(f"date_format({t}, 'yyyy-MM-dd HH:mm:ss.SSSSSS') as {t}" for t in TIMES)]
        + ["cast(source_priority as string) as source_priority"]
    )
    spark_rows = [
        tuple(row)
        for row in spark.sql(
            f"select {selected} from intermediate.int_customers_attributed"
        ).collect()
    ]
    spark.stop()

    con = duckdb.connect()
    con.execute(f"attach '{work}/duckdb/partner_ledger.duckdb' as ref (read_only)")
    names = [*COLUMNS, *TIMES, "source_priority"]
    con.execute("create table spark_winners (" + ", ".join(f"{n} varchar" for n in names) + ")")
    con.executemany(
        f"insert into spark_winners values ({', '.join('?' for _ in names)})", spark_rows
    )
    con.execute(
        "create table duckdb_winners as select "
        + ", ".join(
            [*COLUMNS, *(f"strftime({t}, '%Y-%m-%d %H:%M:%S.%f') as {t}" for t in TIMES)]
            + ["cast(source_priority as varchar) as source_priority"]
        )
        + " from ref.intermediate.int_customers_attributed"
    )
    listed = ", ".join(names)
    only_spark, only_duckdb, total = con.execute(
        f"""
        select
            (select count(*) from (select {listed} from spark_winners
                except all select {listed} from duckdb_winners)),
            (select count(*) from (select {listed} from duckdb_winners
                except all select {listed} from spark_winners)),
            (select count(*) from duckdb_winners)
        """
    ).fetchone()
    print(
        f"winners: DuckDB {total:,}, Spark {len(spark_rows):,}; "
        f"only in Spark {only_spark}, only in DuckDB {only_duckdb}"
    )
    return 0 if only_spark == 0 and only_duckdb == 0 and total == len(spark_rows) > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
