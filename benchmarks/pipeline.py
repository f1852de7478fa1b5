"""Benchmark: the whole nightly settlement as a user runs it, at several sizes (issue 11).

Every figure is a separate `partner-ledger` process, started the way an operator starts it,
against a real Prefect server that the script starts once (`prefect server start`, its state
under `<dir>/prefect`), so that no figure pays Prefect's temporary-server start-up; the cost of
that start-up is printed once on its own. For each size:

- cold: a full run on an empty warehouse (as-of 2025-12-31: the whole demo year, eleven closes);
- next: the next night (as-of 2026-01-01) with one more day of data: a new clicks file with a
  day of clicks is delivered, and 31 December's records become visible;
- again: the same night once more (appends nothing);
- backtest: `backtest --from 2025-10-01 --to 2025-12-31 --nights monthly` of a candidate tier
  rule beside the baseline (both sides replayed cold in scratch warehouses).

Each prints wall and CPU seconds (user + system, the process and its children), peak RSS, the
run's seconds per stage (from the run record the flow writes) and the ten slowest dbt nodes,
beside the floor measured in the same warehouse: a DuckDB scan of every raw column the models
read, plus writing the output tables again, as ratios. Sizes (demo generator, see
partner_ledger/demo/): example = the worked example of shared/examples; S = scale 2, customer
scale 19 (1.05M clicks); M = scale 19, customer scale 186 (~10M clicks); L = scale 95,
customer scale 745 (50.2M clicks, 1.6M customers, 7.5M invoices: 12 GB of files, generated in
about 7.5 minutes at 5.2 GB peak; its runs need about 20 GB more). Prints figures; asserts
nothing.

    .venv/bin/python benchmarks/pipeline.py --sizes example,S --repeat 3
    .venv/bin/python benchmarks/pipeline.py --sizes M --dir /data/bench --reuse
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from partner_ledger.config import run_record_path

REPO = Path(__file__).resolve().parent.parent
CLI = REPO / ".venv" / "bin" / "partner-ledger"
PREFECT = REPO / ".venv" / "bin" / "prefect"
EXAMPLE = REPO.parent / "shared" / "examples" / "three_partners"
SIZES = {"S": (2, 19), "M": (19, 186), "L": (95, 745)}
# (cold as-of, next night) per size
NIGHTS = {"example": ("2025-04-01", "2025-05-01")}
DEFAULT_NIGHTS = ("2025-12-31", "2026-01-01")
# the targets: (figure, limit, unit)
TARGETS = {
    ("example", "next"): (12, "cpu"),
    ("S", "next"): (25, "cpu"),
    ("S", "cold"): (45, "cpu"),
    ("M", "cold"): (180, "wall"),
    ("M", "next"): (30, "wall"),
    ("L", "cold"): (600, "wall"),
    ("L", "next"): (60, "wall"),
}
OUTPUT_TABLES = (
    "fct_attributions",
    "fct_ledger_entries",
    "fct_partner_balances",
    "fct_payout_lines",
    "fct_payout_batches",
    "fct_payout_statements",
    "fct_partner_tiers_monthly",
    "quarantine",
)
DELIVERY = Path("tracking") / "clicks" / "bench-next-day.csv"


@dataclass
class Figure:
    wall: float
    cpu: float
    rss_mb: float
    stages: dict[str, float] = field(default_factory=dict)
    nodes: list[tuple[float, str]] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_prefect_server(state: Path) -> tuple[subprocess.Popen, dict[str, str], float]:
    """A real Prefect server for the benchmark's runs; returns it, the env and its start time."""
    state.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(state), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env["PREFECT_API_URL"] = f"http://127.0.0.1:{port}/api"
    started = time.monotonic()
    server = subprocess.Popen(
        [str(PREFECT), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=(state / "server.log").open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = started + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(env["PREFECT_API_URL"] + "/health", timeout=2):
                return server, env, time.monotonic() - started
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise RuntimeError(f"the Prefect server did not answer in 180 s; see {state / 'server.log'}")


def timed(cmd: list[str], env: dict[str, str], log: Path) -> Figure:
    """Run one command as its own process; wall, CPU (with children) and peak RSS."""
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed; see {log}:\n{log.read_text()[-2000:]}")
    return Figure(wall=wall, cpu=usage.ru_utime + usage.ru_stime, rss_mb=usage.ru_maxrss / 1024)


def run_night(
    landing: Path, warehouse: Path, out: Path, as_of: str, env: dict[str, str], log: Path
) -> Figure:
    cmd = [str(CLI), "run", "--as-of", as_of, "--landing", str(landing)]
    cmd += ["--warehouse", str(warehouse), "--out", str(out)]
    if landing == EXAMPLE / "landing":
        cmd += ["--rules", str(EXAMPLE / "rules")]
    # Nights are a day apart: the previous run's writes have reached the disk long before the
    # next starts. They are flushed here, outside the figure: a DuckDB commit syncs the
    # warehouse file and waits for all of its unwritten pages (a commit of M's next night took
    # 1.6-1.9 s instead of 0.07 s when its file had just been written).
    os.sync()
    figure = timed(cmd, env, log)
    record = run_record_path(warehouse, date.fromisoformat(as_of))
    if record.exists():
        summary = json.loads(record.read_text())
        figure.stages = summary.get("seconds_by_stage", {})
        figure.nodes = sorted(
            ((seconds, name) for name, seconds in summary.get("slowest_dbt_nodes", {}).items()),
            reverse=True,
        )
    return figure


def prepare_landing(size: str, root: Path, reuse: bool) -> Path:
    if size == "example":
        return EXAMPLE / "landing"
    landing = root / size / "landing"
    stats_file = root / size / "stats.json"
    if reuse and stats_file.exists():
        print(f"{size}: reusing {landing}")
        return landing
    from partner_ledger.demo import generate_demo_landing

    scale, customer_scale = SIZES[size]
    started = time.monotonic()
    stats = generate_demo_landing(landing, scale=scale, customer_scale=customer_scale)
    stats_file.write_text(json.dumps({k: str(v) for k, v in vars(stats).items()}, indent=1))
    print(
        f"{size}: generated {stats.clicks:,} clicks, {stats.customers:,} customers, "
        f"{stats.invoices:,} invoices, {stats.charges:,} charges, {stats.partners:,} partners "
        f"in {time.monotonic() - started:.0f} s"
    )
    return landing


def deliver_next_day(landing: Path) -> int:
    """A new clicks file: 30 December's clicks again, a day later, with new ids."""
    source = landing / "tracking" / "clicks"
    candidates = sorted(source.glob("2025-12.csv*"))
    if not candidates:
        return 0
    opener = gzip.open if candidates[0].suffix == ".gz" else open
    rows = 0
    with (
        opener(candidates[0], "rt", newline="") as handle,
        (landing / DELIVERY).open("w", newline="") as target,
    ):
        reader = csv.reader(handle)
        writer = csv.writer(target, lineterminator="\n")
        writer.writerow(next(reader))
        for row in reader:
            if len(row) == 6 and row[3].startswith("2025-12-30"):
                row[0] += "-next"
                row[3] = "2025-12-31" + row[3][len("2025-12-30") :]
                writer.writerow(row)
                rows += 1
    return rows


def floor_seconds(warehouse: Path) -> tuple[float, float]:
    """The floor (_floor_seconds), measured in a process of its own.

    Measured in this process, the floor's 4 GB stayed with it, and every run started after it
    reported them as its own peak: Linux counts a child's memory from before its exec (the
    copy of this process), so L's next night and the night again both read 4,106 MB while
    they peaked at about 3,615 MB."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    os.sync()  # the cold night's writes are flushed first, as before a night (run_night)
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_floor_seconds, warehouse).result()


def _floor_seconds(warehouse: Path) -> tuple[float, float]:
    """Scan every raw column the models read, and write the output tables again."""
    scratch = warehouse.parent / "floor_write.duckdb"
    scratch.unlink(missing_ok=True)
    con = duckdb.connect(str(scratch))
    con.execute("set memory_limit = '4GB'")
    con.execute("set enable_progress_bar = false")  # a spawned process draws it in the output
    con.execute(f"attach '{warehouse}' as wh (read_only)")
    started = time.monotonic()
    tables = con.execute(
        "select table_name from duckdb_tables() where database_name = 'wh' "
        "and schema_name = 'raw' "
        "and (table_name = 'stripe_objects' or table_name like 'tracking_%')"
    ).fetchall()
    for (table,) in tables:
        columns = [
            row[0]
            for row in con.execute(
                "select column_name from duckdb_columns() where database_name = 'wh' "
                "and schema_name = 'raw' and table_name = ?",
                [table],
            ).fetchall()
        ]
        total = " + ".join(f"coalesce(length(cast({c} as varchar)), 0)" for c in columns)
        con.execute(f"select sum({total}) from wh.raw.{table}").fetchall()
    scan = time.monotonic() - started
    started = time.monotonic()
    for table in OUTPUT_TABLES:
        con.execute(f"create table {table} as select * from wh.main.{table}")
    con.execute("checkpoint")
    write = time.monotonic() - started
    con.close()
    scratch.unlink(missing_ok=True)
    return scan, write


def candidate_rules(root: Path) -> Path:
    """The default rules with easier tiers: every non-base threshold one customer lower."""
    rules = root / "candidate_rules"
    if rules.exists():
        shutil.rmtree(rules)
    shutil.copytree(REPO / "seeds", rules)
    with (rules / "tiers.csv").open(newline="") as handle:
        tiers = list(csv.DictReader(handle))
    for tier in tiers:
        if int(tier["rank"]) > 1 and int(tier["min_customers"]) > 0:
            tier["min_customers"] = str(int(tier["min_customers"]) - 1)
    with (rules / "tiers.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(tiers[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(tiers)
    return rules


def _median(figures: list[Figure]) -> Figure:
    middle = sorted(figures, key=lambda figure: figure.cpu)[len(figures) // 2]
    return Figure(
        wall=statistics.median(f.wall for f in figures),
        cpu=statistics.median(f.cpu for f in figures),
        rss_mb=max(f.rss_mb for f in figures),
        stages=middle.stages,
        nodes=middle.nodes,
    )


def report(size: str, name: str, figures: list[Figure], floor: float | None) -> None:
    figure = _median(figures)
    line = (
        f"{size:>7} {name:<8} wall {figure.wall:7.1f} s  cpu {figure.cpu:7.1f} s  "
        f"peak rss {figure.rss_mb:6.0f} MB"
    )
    if floor:
        line += f"  wall/floor {figure.wall / floor:6.1f}x"
    target = TARGETS.get((size, name))
    if target:
        limit, unit = target
        value = figure.cpu if unit == "cpu" else figure.wall
        line += f"  target {unit} <= {limit} s: {'met' if value <= limit else 'NOT met'}"
    if len(figures) > 1:
        line += f"  (median of {len(figures)}: cpu " + ", ".join(f"{f.cpu:.1f}" for f in figures)
        line += ")"
    print(line)
    if figure.stages:
        print("          stages: " + ", ".join(f"{k} {v:.1f}" for k, v in figure.stages.items()))
    if figure.nodes:
        print("          slowest dbt nodes: " + ", ".join(f"{n} {t:.2f}" for t, n in figure.nodes))
    sys.stdout.flush()


def bench_size(size: str, root: Path, env: dict[str, str], repeat: int, args) -> None:
    landing = prepare_landing(size, root, args.reuse)
    cold_night, next_night = NIGHTS.get(size, DEFAULT_NIGHTS)
    work = root / size / "runs"
    figures: dict[str, list[Figure]] = {"cold": [], "next": [], "again": []}
    floor = None
    for attempt in range(repeat):
        if size != "example":
            (landing / DELIVERY).unlink(missing_ok=True)
        if work.exists():
            shutil.rmtree(work)
        warehouse = work / "warehouse" / "partner_ledger.duckdb"
        out = work / "out"
        logs = root / size / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        figures["cold"].append(
            run_night(landing, warehouse, out, cold_night, env, logs / f"cold-{attempt}.log")
        )
        if attempt == 0:
            scan, write = floor_seconds(warehouse)
            floor = scan + write
            print(
                f"{size:>7} floor    scan of raw columns {scan:.2f} s + write of outputs "
                f"{write:.2f} s = {floor:.2f} s"
            )
        if size != "example":
            deliver_next_day(landing)
        figures["next"].append(
            run_night(landing, warehouse, out, next_night, env, logs / f"next-{attempt}.log")
        )
        figures["again"].append(
            run_night(landing, warehouse, out, next_night, env, logs / f"again-{attempt}.log")
        )
    for name, measured in figures.items():
        report(size, name, measured, floor)
    if size != "example":
        (landing / DELIVERY).unlink(missing_ok=True)
    if not args.skip_backtest and size != "example":
        cmd = [str(CLI), "backtest", "--rules", str(candidate_rules(root)), "--from", "2025-10-01"]
        cmd += ["--to", "2025-12-31", "--nights", "monthly", "--landing", str(landing)]
        cmd += ["--report", str(root / size / "backtest")]
        report(size, "backtest", [timed(cmd, env, root / size / "logs" / "backtest.log")], floor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="example,S,M", help="comma separated: example,S,M,L")
    parser.add_argument("--dir", default="/tmp/partner-ledger-bench", help="working folder")
    parser.add_argument("--reuse", action="store_true", help="reuse generated landing folders")
    parser.add_argument("--repeat", type=int, default=3, help="repeats of cold/next/again")
    parser.add_argument("--repeat-large", type=int, default=1, help="repeats for M and L")
    parser.add_argument("--skip-backtest", action="store_true")
    args = parser.parse_args()
    root = Path(args.dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    print(
        f"partner-ledger pipeline benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
        f"{os.cpu_count()} cores, python {sys.version.split()[0]}, duckdb {duckdb.__version__}"
    )
    server, env, startup = start_prefect_server(root / "prefect")
    print(f"Prefect server started in {startup:.1f} s (paid once; each figure below excludes it)")
    try:
        for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
            repeat = args.repeat_large if size in ("M", "L") else args.repeat
            bench_size(size, root, env, repeat, args)
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
