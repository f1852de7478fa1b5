"""Every model's plan, as DuckDB executes it: rows in, rows out, and the largest intermediate.

Runs the compiled SQL of each model of the last dbt build of a warehouse (`<target>/compiled`)
with DuckDB's profiler on (`EXPLAIN ANALYZE`, the JSON form), as `create temp table ... as`
so that every column is computed, and prints per model: seconds, the rows it returns, the rows
of its largest base-table scan, the largest row count any operator produced, that operator and
its join condition, the ratio largest / max(scan, output), and every CTE DuckDB materialized with
more than 100,000 rows (a CTE read twice is copied: one that wraps a large model copies it
every night). A join that multiplies rows
(a key that omits the entity id, a range join over a whole history) shows as a ratio far above
1; `--fail-above` turns that into an exit status. Each model runs the compiled SQL of the last
build, which is what the next night runs: an incremental model's select, and a scoped model's
night (docs/decisions/0026: its scope and the rows in it) unless that build was a full one.

    .venv/bin/python benchmarks/plans.py --warehouse W --target T [--only int_commissions_computed]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb


@dataclass
class Plan:
    model: str
    seconds: float
    output_rows: int
    largest_scan: int
    largest_rows: int
    largest_operator: str
    materialized: list[tuple[str, int]]  # (CTE name, rows copied) above MATERIALIZED_ROWS

    @property
    def ratio(self) -> float:
        return self.largest_rows / max(self.largest_scan, self.output_rows, 1)


MATERIALIZED_ROWS = 100_000


def _operators(node: dict):
    yield node
    for child in node.get("children", []):
        yield from _operators(child)


def _describe(node: dict) -> str:
    name = node.get("operator_name") or node.get("operator_type") or "?"
    extra = node.get("extra_info", {}) or {}
    detail = extra.get("Conditions") or extra.get("Table") or extra.get("Join Type") or ""
    if isinstance(detail, list):
        detail = " and ".join(str(item) for item in detail)
    return f"{name.strip()} {str(detail)[:160]}".strip()


# a scope's keys made into a temporary table before the model's query, in dbt's connection
# (materialized_scope, macros/change_scope.sql): its SQL is in the compiled file's comment
SCOPE_TABLE = re.compile(
    r"/\* scope table (\"[^\"]+\") \(materialized_scope\), made before this query from:\n(.*?)\n\s*\*/",
    re.DOTALL,
)


def make_scope_tables(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Create the temporary tables of the scopes a compiled model reads."""
    for table, scope_sql in SCOPE_TABLE.findall(sql):
        con.execute(f"create or replace temp table {table} as {scope_sql}")


def profile(con: duckdb.DuckDBPyConnection, model: str, sql: str, scratch: Path) -> Plan:
    profile_file = scratch / f"{model}.json"
    make_scope_tables(con, sql)
    con.execute("pragma enable_profiling = 'json'")
    con.execute(f"pragma profiling_output = '{profile_file}'")
    started = time.monotonic()
    con.execute(f"create or replace temp table plan_output as {sql}")
    seconds = time.monotonic() - started
    con.execute("pragma disable_profiling")
    output_rows = con.execute("select count(*) from plan_output").fetchone()[0]
    con.execute("drop table plan_output")
    tree = json.loads(profile_file.read_text())
    largest_scan, largest_rows, largest_operator = 0, 0, ""
    materialized = []
    for node in _operators(tree):
        rows = int(node.get("operator_cardinality", 0) or 0)
        name = (node.get("operator_name") or node.get("operator_type") or "").strip()
        if name == "CTE" and node.get("children"):
            copied = int(node["children"][0].get("operator_cardinality", 0) or 0)
            if copied > MATERIALIZED_ROWS:
                cte = (node.get("extra_info") or {}).get("CTE Name", "?")
                materialized.append((cte, copied))
        if "SCAN" in name and "CTE" not in name and "DELIM" not in name:
            largest_scan = max(largest_scan, rows)
        elif rows > largest_rows:
            largest_rows, largest_operator = rows, _describe(node)
    return Plan(
        model, seconds, output_rows, largest_scan, largest_rows, largest_operator, materialized
    )


def compiled_models(target: Path, only: set[str]) -> list[tuple[str, str]]:
    """(model, compiled SQL) of every model of the project's last build, by path. Data tests
    compile into folders named after their .yml file and are left out; the nightly build
    writes no manifest (partner_ledger/settle/dbt.py), so the compiled folder is the list."""
    models = []
    for compiled in sorted((target / "compiled").glob("*/models/**/*.sql")):
        if compiled.parent.suffix == ".yml" or (only and compiled.stem not in only):
            continue
        models.append((compiled.stem, compiled.read_text()))
    return models


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--warehouse", required=True, type=Path)
    parser.add_argument("--target", required=True, type=Path, help="dbt target folder")
    parser.add_argument("--only", default="", help="comma separated model names")
    parser.add_argument("--fail-above", type=float, default=0.0, help="exit 1 above this ratio")
    args = parser.parse_args()
    con = duckdb.connect(str(args.warehouse), read_only=True)
    con.execute("set TimeZone = 'UTC'; set memory_limit = '4GB'")
    con.execute("set preserve_insertion_order = false")
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    worst = 0.0
    print(
        f"{'model':<34} {'s':>6} {'output':>11} {'scan':>11} {'largest':>12} {'ratio':>6}  operator"
    )
    with tempfile.TemporaryDirectory() as scratch:
        for model, sql in compiled_models(args.target, only):
            plan = profile(con, model, sql, Path(scratch))
            worst = max(worst, plan.ratio)
            print(
                f"{model:<34} {plan.seconds:6.2f} {plan.output_rows:11,} {plan.largest_scan:11,} "
                f"{plan.largest_rows:12,} {plan.ratio:6.1f}  {plan.largest_operator}",
                flush=True,
            )
            if plan.materialized:
                copies = ", ".join(f"{name} {rows:,} rows" for name, rows in plan.materialized)
                print(f"{'':<34} materialized CTEs: {copies}", flush=True)
    print(f"largest ratio: {worst:.1f}")
    return 1 if args.fail_above and worst > args.fail_above else 0


if __name__ == "__main__":
    sys.exit(main())
