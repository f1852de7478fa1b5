"""DuckDB side of the Spark portability check, run with the project's environment: the demo
landing, ingested into a fresh DuckDB warehouse with the default rules, attribution built as of
2026-01-01 (every demo record visible)."""

from __future__ import annotations

import sys
from pathlib import Path

from partner_ledger.demo import generate_demo_landing
from partner_ledger.io.ingest import ingest_landing
from partner_ledger.io.warehouse import connect, ensure_raw_schema
from partner_ledger.rules.load import load_rules
from partner_ledger.settle.dbt import PROJECT_DIR, dbt_build

AS_OF = "2026-01-01"


def main(work: Path) -> None:
    landing = work / "landing"
    warehouse = work / "duckdb" / "partner_ledger.duckdb"
    stats = generate_demo_landing(landing)
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    warehouse.unlink(missing_ok=True)
    con = connect(warehouse)
    ensure_raw_schema(con)
    ingest_landing(con, landing)
    load_rules(con, PROJECT_DIR / "seeds")
    con.close()
    dbt_build(
        warehouse, AS_OF, select="+int_customers_attributed", target_dir=work / "target_duckdb"
    )
    print(f"DuckDB reference: {stats.clicks:,} clicks, {stats.signups:,} signups -> {warehouse}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
