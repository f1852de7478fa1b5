"""dbt's tables keep their text without FSST compression (partner_ledger.io.warehouse.TABLE_STORAGE,
docs/decisions/0012, session 37): a night reads the same string keys again and again, and
decompressing FSST was 14 % of L's closing night. test_incremental_equals_full checks the tables
a run's nights leave; here, the setting in dbt's own connections and the large writes it is for.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from partner_ledger.io.warehouse import store_tables
from partner_ledger.settle.dbt import code_fingerprint, invoke


def _compressions(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return {
        row[0]
        for row in con.execute(
            f"select distinct compression from pragma_storage_info('{table}') "
            "where segment_type = 'VARCHAR'"
        ).fetchall()
    }


def test_a_large_write_keeps_its_text_without_fsst(tmp_path: Path) -> None:
    """A write of whole row groups is compressed as it is written, not at the checkpoint: the
    setting must be the database's while dbt writes (as dbt's connections set it)."""
    rows = "select 'pe_' || md5(i::varchar) || '|' || (i % 97) as key from range(300000) t(i)"
    con = duckdb.connect(str(tmp_path / "default.duckdb"))
    con.execute(f"create table keys as {rows}")
    assert "FSST" in _compressions(con, "keys")  # DuckDB's choice for such keys
    con.close()
    con = duckdb.connect(str(tmp_path / "stored.duckdb"))
    store_tables(con)
    con.execute(f"create table keys as {rows}")
    con.execute("checkpoint")
    assert _compressions(con, "keys") and "FSST" not in _compressions(con, "keys")
    assert con.execute("select count(distinct key) from keys").fetchone()[0] == 300_000
    con.close()


def test_dbt_connections_store_tables_as_the_warehouse_does(tmp_path: Path) -> None:
    """dbt opens the database through the project's plugin (profiles.yml), which sets it."""
    result = invoke(
        [
            "show",
            "--inline",
            "select current_setting('disabled_compression_methods') as methods",
        ],
        {
            "PARTNER_LEDGER_WAREHOUSE": str(tmp_path / "partner_ledger.duckdb"),
            "PARTNER_LEDGER_CODE_FINGERPRINT": code_fingerprint(),
            "DBT_TARGET_PATH": str(tmp_path / "target"),
            "DBT_LOG_PATH": str(tmp_path / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        },
    )
    assert result.success, result.exception
    table = result.result.results[0].agate_table
    assert [row["methods"].lower() for row in table.rows] == ["fsst"]
