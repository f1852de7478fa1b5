"""A night costs what changed, and gives what a full rebuild gives (issue 11, decision 0012).

The parse caches are incremental: each Stripe staging model parses only the lines loaded since
its last build and replaces the versions of the ids they carry; clicks are parsed once per
delivery. The statement lines (fct_statement_entries) are added per closed batch. The same
generated program is replayed twice, night by night, as real flow runs, with deliveries
arriving over the nights (refunds, disputes and late clicks only on the second night; a changed
refunds file, with new versions of refunds already loaded, on the third): once as a user runs
it, and once with every cache dropped before each night, so that dbt builds it in full. After
each night every table of the two warehouses is compared row for row.
"""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from flows.nightly import nightly_settlement
from partner_ledger.config import DEFAULTS
from partner_ledger.demo import generate_demo_landing
from tests.conftest import WAREHOUSE_SCHEMAS, warehouse_differences

# the incremental models a full build gives again: the caches of parsed input, the statement
# lines of closed batches (built from the ledger stores) and the scoped models (decision 0026);
# the ledger stores are never dropped
CACHES = (
    "main.fct_statement_entries",
    "staging.stg_stripe__customers",
    "staging.stg_stripe__invoices",
    "staging.stg_stripe__charges",
    "staging.stg_stripe__refunds",
    "staging.stg_stripe__disputes",
    "intermediate.int_clicks_delivered",
    "intermediate.int_clicks_redelivered",
    "intermediate.int_stripe_charges_linked",
    "intermediate.int_paid_events_resolved",
    "intermediate.int_paid_events_numbered",
    "intermediate.int_paid_events_attributed",
    "main.fct_paid_events",
    "main.fct_ledger_entries",
    "main.dim_customers",
    "intermediate.int_ledger_entries_expected",
    "intermediate.int_commissions_computed",
    "intermediate.int_sales_validated",
    "intermediate.int_clicks_quarantined",
)
HELD_BACK = (
    Path("stripe") / "refunds.jsonl",
    Path("stripe") / "disputes.jsonl",
    Path("tracking") / "clicks" / "2025-late.csv",
)
NIGHTS = (date(2025, 7, 1), date(2025, 10, 1), date(2026, 1, 1))


def _change_refunds(landing: Path) -> int:
    """A new version of refunds.jsonl: every tenth succeeded refund is now failed."""
    path = landing / "stripe" / "refunds.jsonl"
    lines = path.read_text().splitlines()
    changed = 0
    for index, line in enumerate(lines):
        body = json.loads(line)
        if body.get("status") == "succeeded" and index % 10 == 0:
            body["status"] = "failed"
            lines[index] = json.dumps(body)
            changed += 1
    path.write_text("\n".join(lines) + "\n")
    return changed


@pytest.mark.usefixtures("prefect_harness")
def test_incremental_nights_equal_full_rebuilds(tmp_path: Path) -> None:
    source = tmp_path / "generated"
    generate_demo_landing(source, seed=11)
    held = tmp_path / "held"
    for relative in HELD_BACK:
        (held / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.move(source / relative, held / relative)
    sides = {name: tmp_path / name for name in ("incremental", "full")}
    for root in sides.values():
        shutil.copytree(source, root / "landing")
    caches_rebuilt = 0
    for night_index, night in enumerate(NIGHTS):
        for name, root in sides.items():
            landing = root / "landing"
            if night_index == 1:
                for relative in HELD_BACK:
                    shutil.copyfile(held / relative, landing / relative)
            if night_index == 2:
                assert _change_refunds(landing) > 5
            warehouse = root / "warehouse" / "partner_ledger.duckdb"
            if name == "full" and warehouse.exists():
                con = duckdb.connect(str(warehouse))
                for cache in CACHES:
                    con.execute(f"drop table if exists {cache}")
                    caches_rebuilt += 1
                con.close()
            nightly_settlement(
                as_of=night,
                landing=landing,
                rules=DEFAULTS["rules"],
                warehouse=warehouse,
                out=root / "out",
            )
        incremental = sides["incremental"] / "warehouse" / "partner_ledger.duckdb"
        full = sides["full"] / "warehouse" / "partner_ledger.duckdb"
        assert warehouse_differences(incremental, full, min_tables=41) == {}, f"night {night}"
    assert caches_rebuilt == 2 * len(CACHES)
    # the later deliveries did reach the caches incrementally: new and superseded versions
    con = duckdb.connect(str(sides["incremental"] / "warehouse" / "partner_ledger.duckdb"))
    failed = con.execute(
        "select count(*) from staging.stg_stripe__refunds where status = 'failed'"
    ).fetchone()[0]
    deliveries = con.execute(
        "select count(distinct delivery_seq) from staging.stg_stripe__refunds"
    ).fetchone()[0]
    assert failed > 5 and deliveries == 1  # the whole new file supersedes the first
    # dbt's tables keep their text without FSST compression, these small ones through the
    # commit's checkpoint (partner_ledger.io.warehouse.TABLE_STORAGE; decision 0012, session
    # 37), though DuckDB's defaults choose it for the same rows (a copy with them, below)
    built = _fsst_columns(con)
    con.close()
    assert built == []
    fresh = duckdb.connect(str(tmp_path / "default_compression.duckdb"))
    fresh.execute(
        f"attach '{sides['incremental'] / 'warehouse' / 'partner_ledger.duckdb'}' as built"
    )
    for schema in WAREHOUSE_SCHEMAS:
        fresh.execute(f"create schema if not exists {schema}")
        for (table,) in fresh.execute(
            "select table_name from duckdb_tables() where database_name = 'built' and schema_name = ?",
            [schema],
        ).fetchall():
            fresh.execute(f"create table {schema}.{table} as select * from built.{schema}.{table}")
    fresh.execute("detach built")
    fresh.execute("checkpoint")
    assert len(_fsst_columns(fresh)) >= 5
    fresh.close()


def _fsst_columns(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The columns of dbt's tables (not the raw ones the ingest loads) with a segment stored
    with FSST compression."""
    tables = con.execute(
        "select schema_name, table_name from duckdb_tables() "
        "where database_name = current_database() and schema_name in "
        f"{WAREHOUSE_SCHEMAS} order by all"
    ).fetchall()
    found = []
    for schema, table in tables:
        found += [
            f"{schema}.{table}.{column}"
            for (column,) in con.execute(
                f"select distinct column_name from pragma_storage_info('{schema}.{table}') "
                "where compression = 'FSST' order by 1"
            ).fetchall()
        ]
    return found
