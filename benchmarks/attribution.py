"""Benchmark: attribution SQL over N clicks and M customers (issue 3: 10M clicks, 500k customers).

Synthetic raw rows are generated inside DuckDB (no Python rows), the default rules are loaded,
and dbt builds the attribution subgraph; the per-model execution times come from dbt's
run_results.json. Prints figures; asserts nothing.

    .venv/bin/python benchmarks/attribution.py --clicks 10000000 --customers 500000
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from flows.dbt import PROJECT_DIR, dbt_build
from flows.rules_load import load_rules
from flows.warehouse import connect, ensure_raw_schema

SELECT = "+int_customers_attributed"


def make_raw(warehouse: Path, clicks: int, customers: int, partners: int) -> None:
    con = connect(warehouse)
    ensure_raw_schema(con)
    load_rules(con, PROJECT_DIR / "seeds")
    con.execute(
        f"""
        insert into raw.tracking_partners
        select 1, 'bench', i + 1, 'pt_' || i, 'prog_eur', 'code' || i, 'Partner ' || i,
               'p' || i || '@example.com', null, '2024-12-01T00:00:00Z', 'active', null,
               'paypal', 'p' || i || '@example.com'
        from range({partners}) as t(i)
        """
    )
    # visitors: one per customer plus anonymous traffic; a customer's clicks share its visitor
    con.execute(
        f"""
        insert into raw.tracking_clicks
        select 2, 'bench', i + 1, 'clk_' || i, 'prog_eur', 'code' || (hash(i) % {partners}),
               strftime(timestamp '2025-01-01' + to_seconds((hash(i * 7) % (300 * 86400))::bigint),
                        '%Y-%m-%dT%H:%M:%SZ'),
               'v_' || (hash(i * 13) % ({customers} * 4)), 'https://example.com/?aff=x'
        from range({clicks}) as t(i)
        """
    )
    con.execute(
        f"""
        insert into raw.tracking_signups
        select 3, 'bench', i + 1, 'prog_eur', 'cust_' || i, 'c' || i || '@example.org',
               strftime(timestamp '2025-01-15' + to_seconds((hash(i * 3) % (300 * 86400))::bigint),
                        '%Y-%m-%dT%H:%M:%SZ'),
               case when i % 3 = 0 then 'clk_' || (hash(i * 5) % {clicks}) end,
               'v_' || i
        from range({customers}) as t(i)
        """
    )
    con.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=10_000_000)
    parser.add_argument("--customers", type=int, default=500_000)
    parser.add_argument("--partners", type=int, default=5_000)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="bench_attribution_"))
    warehouse = work / "partner_ledger.duckdb"
    started = time.monotonic()
    make_raw(warehouse, args.clicks, args.customers, args.partners)
    print(
        f"raw data: {args.clicks:,} clicks, {args.customers:,} signups, "
        f"{args.partners:,} partners in {time.monotonic() - started:.1f} s"
    )
    target = work / "target"
    for attempt in ("cold", "warm"):
        started = time.monotonic()
        dbt_build(warehouse, "2026-01-01", select=SELECT, target_dir=target)
        wall = time.monotonic() - started
        results = json.loads((target / "run_results.json").read_text())["results"]
        timings = {r["unique_id"].split(".")[-1]: r["execution_time"] for r in results}
        print(f"\n{attempt} dbt build {SELECT}: {wall:.1f} s wall")
        for name, seconds in sorted(timings.items(), key=lambda item: -item[1])[:8]:
            print(f"  {seconds:6.2f} s  {name}")
        attribution = sum(
            timings.get(name, 0.0)
            for name in (
                "int_customers_identified",
                "int_touches_evaluated",
                "int_customers_attributed",
            )
        )
        print(f"  attribution SQL (identify + evaluate + attribute): {attribution:.2f} s")
        print(f"  clicks validation + versions: {timings.get('int_clicks_validated', 0.0):.2f} s")
    con = connect(warehouse, read_only=True)
    attributed = con.execute(
        "select count(*) from intermediate.int_customers_attributed"
    ).fetchone()[0]
    con.close()
    print(f"\ncustomers attributed: {attributed:,}")
    print(
        f"peak RSS of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )


if __name__ == "__main__":
    main()
