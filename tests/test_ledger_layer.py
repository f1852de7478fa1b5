"""The ledger layer (models/ledger/, docs/decisions/0025) is guarded by more than prose.

- `dbt build --full-refresh` on a warehouse with closed periods rebuilds everything else and
  leaves the ledger stores and the payout batches exactly as they were;
- a warehouse of the older layout (the stores under their old names, in other schemas) keeps
  its history: the next night moves them to their new names and appends nothing.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import duckdb

from flows.nightly import nightly_settlement
from partner_ledger.io.warehouse import MOVED_RELATIONS, connect, migrate_moved_relations
from partner_ledger.settle.dbt import invoke

LEDGER = (
    "ledger.ledger_entries",
    "ledger.ledger_period_closes",
    "ledger.ledger_statements",
    "ledger.ledger_partner_tiers_monthly",
)
LAST_NIGHT = "2025-06-01"


def _rows(warehouse: Path, relations: tuple[str, ...]) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return {name: sorted(con.execute(f"select * from {name}").fetchall()) for name in relations}
    finally:
        con.close()


def _dbt(warehouse: Path, target: Path, *args: str) -> None:
    result = invoke(
        [*args, "--quiet"],
        {"PARTNER_LEDGER_WAREHOUSE": str(warehouse), "DBT_TARGET_PATH": str(target)},
    )
    assert result.success, result.exception


def test_full_refresh_leaves_the_ledger_and_batches_unchanged(
    example_three_nights: Path, tmp_path: Path
) -> None:
    warehouse = tmp_path / "example.duckdb"
    shutil.copy(example_three_nights / "warehouse" / "example.duckdb", warehouse)
    guarded = (*LEDGER, "main.fct_payout_batches", "main.fct_payout_statements")
    before = _rows(warehouse, guarded)
    # the ledger holds history of several nights: a rebuild would restamp it all as one night
    recorded = {row[-1] for row in before["ledger.ledger_entries"]}
    assert len(recorded) >= 3, recorded
    assert len(before["ledger.ledger_period_closes"]) >= 3

    _dbt(
        warehouse,
        tmp_path / "target",
        "build",
        "--full-refresh",
        "--exclude-resource-type",
        "unit_test",
        "--vars",
        json.dumps({"as_of": LAST_NIGHT}),
    )

    after = _rows(warehouse, guarded)
    for name in guarded:
        assert after[name] == before[name], f"{name} changed under --full-refresh"


def _to_old_layout(warehouse: Path) -> None:
    """Put the stores back under the names and schemas they had before decision 0025."""
    con = connect(warehouse)
    try:
        for old_schema, old_name, new_schema, new_name in MOVED_RELATIONS:
            con.execute(f"create schema if not exists {old_schema}")
            con.execute(f"drop table if exists {old_schema}.{old_name}")
            con.execute(
                f"create table {old_schema}.{old_name} as select * from {new_schema}.{new_name}"
            )
            con.execute(f"drop table {new_schema}.{new_name}")
        con.execute(
            "create view intermediate.int_touches_judged as select * from intermediate.int_clicks_parsed"
        )
    finally:
        con.close()


def test_a_warehouse_of_the_old_layout_keeps_its_history(
    example_three_nights: Path, example: Path, tmp_path: Path
) -> None:
    root = tmp_path / "upgrade"
    shutil.copytree(example_three_nights / "warehouse", root / "warehouse")
    shutil.copytree(example_three_nights / "out", root / "out")
    warehouse = root / "warehouse" / "example.duckdb"
    before = _rows(warehouse, LEDGER)
    _to_old_layout(warehouse)

    # the last night again, on the old layout: the stores move, and it appends nothing
    nightly_settlement(
        as_of=date.fromisoformat(LAST_NIGHT),
        landing=example / "landing",
        rules=example / "rules",
        warehouse=warehouse,
        out=root / "out",
    )

    assert _rows(warehouse, LEDGER) == before
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        left = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_name in ('int_ledger_accruals', 'int_payout_periods_closed', "
            "'int_payout_statements', 'int_clicks_parsed', 'int_touches_judged') "
            "or (table_schema = 'main' and table_name = 'ledger_partner_tiers_monthly')"
        ).fetchall()
    finally:
        con.close()
    assert left == []


def test_migration_moves_only_what_is_missing(tmp_path: Path) -> None:
    """An old table moves when its new name is free; when both exist (an operator's copy), the
    new one is kept and the old one is left for them; a second call moves nothing."""
    con = connect(tmp_path / "w.duckdb")
    try:
        con.execute("create schema intermediate")
        con.execute("create table intermediate.int_ledger_accruals as select 1 as entry")
        con.execute("create table intermediate.int_payout_periods_closed as select 2 as closes")
        con.execute("create schema ledger")
        con.execute("create table ledger.ledger_period_closes as select 3 as closes")

        assert migrate_moved_relations(con) == [
            "intermediate.int_ledger_accruals -> ledger.ledger_entries"
        ]
        assert con.execute("select * from ledger.ledger_entries").fetchall() == [(1,)]
        assert con.execute("select * from ledger.ledger_period_closes").fetchall() == [(3,)]
        assert con.execute("select * from intermediate.int_payout_periods_closed").fetchall() == [
            (2,)
        ]
        assert migrate_moved_relations(con) == []
    finally:
        con.close()
