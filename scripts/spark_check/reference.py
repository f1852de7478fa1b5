"""DuckDB side of the Spark settlement check, run with the project's environment: the demo
landing, ingested into a fresh DuckDB warehouse with the default rules, then settled night by
night with the nightly build (the flows' dbt_build: the whole model graph, data tests included).

    reference.py WORK FIRST_NIGHT LAST_NIGHT

Writes WORK/duckdb/partner_ledger.duckdb and WORK/nights.txt (every date from FIRST_NIGHT to
LAST_NIGHT), and prints the seconds the nights took.
"""

from __future__ import annotations

import sys
import time
from datetime import date, timedelta
from pathlib import Path

from partner_ledger.demo import generate_demo_landing
from partner_ledger.io.ingest import ingest_landing
from partner_ledger.io.warehouse import connect, ensure_raw_schema
from partner_ledger.rules.load import load_rules
from partner_ledger.settle.dbt import PROJECT_DIR, dbt_build


def main(work: Path, first: date, last: date) -> None:
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
    nights = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    started = time.monotonic()
    for night in nights:
        dbt_build(warehouse, night.isoformat(), target_dir=work / "target_duckdb")
    seconds = time.monotonic() - started
    (work / "nights.txt").write_text("".join(f"{night.isoformat()}\n" for night in nights))
    print(
        f"DuckDB: {stats.clicks:,} clicks, {stats.signups:,} signups; {len(nights)} nights "
        f"({first} to {last}) in {seconds:.0f} s -> {warehouse}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]), date.fromisoformat(sys.argv[2]), date.fromisoformat(sys.argv[3]))
