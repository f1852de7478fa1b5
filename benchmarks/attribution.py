"""Benchmark: attribution at scale, on the demo generator's data (issue 3).

The demo generator writes a landing directory with ``--scale`` times the demo's clicks and
``--customer-scale`` times its signups; the defaults give about 10 million clicks and 500
thousand customers. The landing is ingested into a fresh warehouse with the default rules and
everything attribution needs is built once (cold). Then the attribution models are rebuilt on
their own, ``--repeat`` times, with one dbt thread so that node times do not overlap, and the
median of dbt's execution time per model is printed:

- attribution: int_customers_identified (identity and conversion), int_touch_candidates (a
  view: every candidate touch and its eligibility) and int_customers_attributed (the winner per
  customer, which the ledger reads);
- the audit trail: fct_attributions (every candidate, the winner and why each other lost).

Then the compiled SQL of the two attribution tables is run as plain queries (every column
computed, nothing written), the measure of issue 3's target (3 s of SQL). Prints figures;
asserts nothing.

    .venv/bin/python benchmarks/attribution.py                 # ~10M clicks, ~500k customers
    .venv/bin/python benchmarks/attribution.py --scale 1 --customer-scale 1 --repeat 1
    .venv/bin/python benchmarks/attribution.py --dir /tmp/bench --reuse   # skip data generation
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from pathlib import Path

from partner_ledger.demo import generate_demo_landing
from partner_ledger.io.ingest import ingest_landing
from partner_ledger.io.warehouse import connect, ensure_raw_schema
from partner_ledger.rules.load import load_rules
from partner_ledger.settle.dbt import PROJECT_DIR, dbt_build

AS_OF = "2026-01-01"  # the day after the demo year: every record is visible
ATTRIBUTION = ("int_customers_identified", "int_touch_candidates", "int_customers_attributed")
TRAIL = ("int_touch_verdicts", "fct_attributions")


def _prepare(work: Path, scale: int, customer_scale: int, reuse: bool) -> Path:
    """Generate the landing, ingest it and load the default rules; return the warehouse."""
    landing = work / "landing"
    warehouse = work / "warehouse" / "partner_ledger.duckdb"
    if reuse and warehouse.exists():
        print(f"reusing {warehouse}")
        return warehouse
    started = time.monotonic()
    stats = generate_demo_landing(landing, scale=scale, customer_scale=customer_scale)
    print(
        f"demo data (scale {scale}, customer scale {customer_scale}): {stats.clicks:,} clicks "
        f"({stats.redelivered_clicks:,} delivered twice), {stats.signups:,} signups, "
        f"{stats.invoices:,} invoices, {stats.partners:,} partners "
        f"in {time.monotonic() - started:.1f} s"
    )
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    warehouse.unlink(missing_ok=True)
    started = time.monotonic()
    con = connect(warehouse)
    ensure_raw_schema(con)
    summary = ingest_landing(con, landing)
    load_rules(con, PROJECT_DIR / "seeds")
    con.close()
    print(
        f"ingest: {summary.rows_loaded:,} rows loaded, {summary.rows_rejected:,} rejected "
        f"in {time.monotonic() - started:.1f} s"
    )
    return warehouse


def _query_seconds(warehouse: Path, target: Path, repeat: int) -> dict[str, float]:
    """The compiled SQL of each attribution table run as a query by DuckDB, every column of every
    row computed (hashed and summed) but nothing written: the best of ``repeat`` runs."""
    compiled = target / "compiled" / "partner_ledger" / "models" / "intermediate" / "attribution"
    con = connect(warehouse, read_only=True)
    con.execute("set memory_limit = '4GB'; set preserve_insertion_order = false")
    best: dict[str, float] = {}
    for name in ("int_customers_identified", "int_customers_attributed"):
        sql = (compiled / f"{name}.sql").read_text()
        columns = [row[0] for row in con.execute(f"describe intermediate.{name}").fetchall()]
        query = f"select count(*), sum(hash({', '.join(columns)})) from ({sql}) as model"
        for _ in range(repeat):
            started = time.monotonic()
            con.execute(query).fetchall()
            best[name] = min(best.get(name, float("inf")), time.monotonic() - started)
    con.close()
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=int, default=19, help="multiplies the demo's clicks")
    parser.add_argument(
        "--customer-scale", type=int, default=186, help="multiplies the demo's signups"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="work directory (kept)")
    parser.add_argument("--reuse", action="store_true", help="reuse the warehouse in --dir")
    args = parser.parse_args()
    work = args.dir or Path(tempfile.mkdtemp(prefix="bench_attribution_"))
    warehouse = _prepare(work, args.scale, args.customer_scale, args.reuse)
    target = work / "target"

    started = time.monotonic()
    dbt_build(warehouse, AS_OF, select="+fct_attributions", target_dir=target)
    print(f"cold dbt build of +fct_attributions: {time.monotonic() - started:.1f} s wall")

    timings: dict[str, list[float]] = {}
    for _ in range(args.repeat):
        result = dbt_build(
            warehouse, AS_OF, select=" ".join(ATTRIBUTION + TRAIL), target_dir=target, threads=1
        )
        for name, seconds in result.seconds_by_node.items():
            timings.setdefault(name, []).append(seconds)
    median = {name: statistics.median(values) for name, values in timings.items()}

    con = connect(warehouse, read_only=True)
    counts = con.execute(
        """
        select
            (select count(*) from intermediate.int_clicks_delivered where row_error is null),
            (select count(*) from intermediate.int_clicks_delivered where is_redelivery),
            (select count(*) from intermediate.int_customers_identified),
            (select count(*) from main.fct_attributions where touch_id is not null),
            (select count(*) from intermediate.int_customers_attributed)
        """
    ).fetchone()
    con.close()
    assert counts is not None
    print(
        f"\nclicks {counts[0]:,} ({counts[1]:,} redeliveries), customers {counts[2]:,}, "
        f"candidate touches {counts[3]:,}, customers attributed {counts[4]:,}"
    )
    print(f"median of {args.repeat} warm rebuilds, dbt execution time, 1 thread:")
    for name in ATTRIBUTION:
        print(f"  {median.get(name, 0.0):6.2f} s  {name}")
    attribution = sum(median.get(name, 0.0) for name in ATTRIBUTION)
    print(f"  {attribution:6.2f} s  = attribution, its two tables written")
    for name in TRAIL:
        print(f"  {median.get(name, 0.0):6.2f} s  {name} (audit trail)")
    tests = sum(v for k, v in median.items() if k not in ATTRIBUTION + TRAIL)
    print(f"  {tests:6.2f} s  data tests of these models")
    queries = _query_seconds(warehouse, target, args.repeat)
    print(f"the same SQL as queries, nothing written (best of {args.repeat}):")
    for name, seconds in queries.items():
        print(
            f"  {seconds:6.2f} s  {name}"
            + (" (with int_touch_candidates)" if "attr" in name else "")
        )
    print(f"  {sum(queries.values()):6.2f} s  = attribution SQL")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (DuckDB included): {rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
