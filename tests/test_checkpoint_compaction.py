"""The commit's checkpoint compacts deleted rows only when they are worth it
(partner_ledger.io.warehouse.checkpoint): a scoped model's few replaced rows made DuckDB
rewrite whole tables at every commit."""

from __future__ import annotations

from pathlib import Path

import duckdb

from partner_ledger.io.warehouse import (
    COMPACT_FROM_ROWS,
    checkpoint,
    connect,
    deleted_rows,
    worth_compacting,
)


def _stored(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(
        "select estimated_size from duckdb_tables() where table_name = ?", [table]
    ).fetchone()[0]


def _replace_every(con: duckdb.DuckDBPyConnection, table: str, step: int) -> int:
    """Delete every step-th row and insert it again, as a scoped model replaces its scope."""
    con.execute(
        f"create or replace temp table scope as select * from {table} where id % {step} = 0"
    )
    con.execute(f"delete from {table} where id in (select id from scope)")
    con.execute(f"insert into {table} select * from scope")
    return con.execute("select count(*) from scope").fetchone()[0]


ROW_GROUP = 122_880  # DuckDB's rows per row group


def _table(con: duckdb.DuckDBPyConnection, name: str, parts: list[int]) -> int:
    """A table appended in parts, each committed and checkpointed: as a scoped table grows
    night by night, with a partly filled row group where a small append met a large one."""
    start = 0
    for part in parts:
        rows = (
            f"select range as id, 'partner-' || (range % 997) as partner_id, "
            f"range * 7 as amount_cents from range({start}, {start + part})"
        )
        con.execute(f"insert into {name} {rows}" if start else f"create table {name} as {rows}")
        con.execute("checkpoint")
        start += part
    return start


def test_a_few_replaced_rows_are_not_compacted(tmp_path: Path) -> None:
    """fct_paid_events' layout at M (1.87M rows; a partly filled row group in the middle) and
    a night's 22,000 rows replaced across it: the checkpoint keeps the deleted rows. DuckDB
    alone rewrites the table to pack it into one row group fewer."""
    con = connect(tmp_path / "w.duckdb")
    rows = _table(con, "events", [10 * ROW_GROUP, 26_231, 5 * ROW_GROUP, 478])
    replaced = _replace_every(con, "events", 85)
    assert 0 < replaced < COMPACT_FROM_ROWS
    assert deleted_rows(con) == {"main.events": (replaced, rows + replaced)}
    assert worth_compacting(con) == []

    assert checkpoint(con) == []

    assert _stored(con, "events") == rows + replaced
    assert con.execute("select count(*), sum(amount_cents) from events").fetchone() == (
        rows,
        7 * (rows - 1) * rows // 2,
    )


def test_deleted_rows_worth_it_are_compacted(tmp_path: Path) -> None:
    """A fifth of a table deleted, more than a row group: that checkpoint compacts, and the
    table's stored rows come back to its live rows. (The warehouse file is named like the
    ledger's schema, as a user may name it: every table is named with its catalog.)"""
    con = connect(tmp_path / "ledger.duckdb")
    con.execute("create schema ledger")
    _table(con, "ledger.ledger.entries", [700_000])
    _table(con, "small", [1_000])
    replaced = _replace_every(con, "ledger.ledger.entries", 3)
    _replace_every(con, "small", 2)  # half of it, but under a row group: not a reason
    assert replaced >= COMPACT_FROM_ROWS
    assert worth_compacting(con) == ["ledger.entries"]

    assert checkpoint(con) == ["ledger.entries"]

    assert _stored(con, "entries") < 700_000 + replaced // 2  # DuckDB packs what it can
    assert con.execute(
        "select count(*), count(distinct id) from ledger.ledger.entries"
    ).fetchone() == (
        700_000,
        700_000,
    )
    # the setting is DuckDB's default again for whatever the connection does next
    assert con.execute("select current_setting('max_vacuum_tasks')").fetchone()[0] == 100
