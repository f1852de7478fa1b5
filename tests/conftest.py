"""Shared fixtures: the worked example, a Prefect test harness, and built warehouses."""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO.parent / "shared" / "examples" / "three_partners"

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


# The suite runs in two workers (pytest-xdist: `-n 2` in pyproject.toml). A unit of work goes to
# one worker: a test module (its module fixtures are built once), or the modules that share a
# costly session fixture (each worker builds the session fixtures of its own tests, so theirs is
# built once). The longest units start first, so that no worker is left alone with one at the
# end (the suite on two workers, session 34: the Spark check 538 s, test_change_scope 250 s,
# the demo year's notebooks and replay 251 s, test_backtest 87 s; docs/decisions/0031).
SHARED_UNITS = {
    "test_notebooks": "demo_replayed",
    "test_replay": "demo_replayed",
}
LONGEST_FIRST = ("test_spark", "test_change_scope", "demo_replayed", "test_backtest")


def unit_of_work(nodeid: str) -> str:
    """The unit of a test's node id (``tests/test_x.py::test_y[...]``): its module's, or the
    shared fixture's its module is listed under."""
    module = nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")
    return SHARED_UNITS.get(module, module)


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """xdist's scheduler by scope, with the units above as scopes (in collection order:
    pyproject.toml passes --no-loadscope-reorder)."""
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return unit_of_work(nodeid)

    return UnitScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        unit = unit_of_work(item.nodeid)
        for fixture in set(SHARED_UNITS.values()):
            if fixture in item.fixturenames and unit != fixture:
                raise pytest.UsageError(
                    f"{item.nodeid} uses the session fixture {fixture}: list its module in "
                    "SHARED_UNITS (tests/conftest.py), so that one worker builds it"
                )

    def rank(item: pytest.Item) -> int:
        unit = unit_of_work(item.nodeid)
        return LONGEST_FIRST.index(unit) if unit in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: each unit keeps its order


@pytest.fixture(scope="session")
def example() -> Path:
    if not EXAMPLE.is_dir():
        pytest.fail(f"the worked example is missing: {EXAMPLE}")
    return EXAMPLE


@pytest.fixture(scope="session")
def prefect_harness():
    """One temporary Prefect API for the whole session (flows run for real against it)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=90):
        yield


EXAMPLE_NIGHTS = ("2025-04-01", "2025-05-01", "2025-06-01")


@pytest.fixture(scope="session")
def example_three_nights(prefect_harness, example: Path, tmp_path_factory, worker_id: str) -> Path:
    """The worked example run for three closing nights into `<root>/{warehouse,out}`, once per
    run of the suite; the warehouse is `warehouse/example.duckdb`. Tests read it or copy it
    before changing it. Twelve modules on both workers use it (the Spark check first): the
    worker that needs it first builds it in the run's temporary root, under a lock, and the
    other reads what it built (three example nights are 130 s of a worker beside the other)."""
    import fcntl

    run_root = tmp_path_factory.getbasetemp()
    if worker_id != "master":  # xdist: <the run's root>/popen-gwN
        run_root = run_root.parent
    root = run_root / "example_three_nights"
    with open(run_root / "example_three_nights.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not root.exists():  # built aside and renamed: a build that failed leaves no root
            building = run_root / f"example_three_nights.{worker_id}"
            shutil.rmtree(building, ignore_errors=True)
            _run_example_nights(example, building, EXAMPLE_NIGHTS)
            building.rename(root)
    return root


@pytest.fixture(scope="session")
def example_every_night(prefect_harness, example: Path, tmp_path_factory) -> Path:
    """The worked example run for every night of its run_dates.txt into
    `<root>/{warehouse,out}`, once per session: the end-to-end tests work on a copy
    (shutil.copytree keeps the folders' modes)."""
    nights = (example / "run_dates.txt").read_text().split()
    return _run_example_nights(example, tmp_path_factory.mktemp("example_every_night"), nights)


def _run_example_nights(example: Path, root: Path, nights) -> Path:
    """The worked example's nightly flow for each of `nights`, into `<root>/{warehouse,out}`."""
    from datetime import date

    from flows.nightly import nightly_settlement

    for night in nights:
        nightly_settlement(
            as_of=date.fromisoformat(night),
            landing=example / "landing",
            rules=example / "rules",
            warehouse=root / "warehouse" / "example.duckdb",
            out=root / "out",
        )
    return root


@pytest.fixture(scope="session")
def demo_replayed(prefect_harness, tmp_path_factory) -> tuple[Path, dict]:
    """The demo program (scale 1) generated and replayed over its year, once per session, as
    the README's demo runs it: the first night of each quarter, each closing the three months
    before it (12 monthly nights cost CI about 220 s; tests/test_replay.py checks the nights)."""
    from flows.demo import demo_flow

    directory = tmp_path_factory.mktemp("demo")
    result = demo_flow(directory=directory, scale=1, seed=7, nights="quarterly")
    return directory, result


def read_csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


WAREHOUSE_SCHEMAS = ("main", "staging", "intermediate", "ledger")


WRITTEN_KEYS_TABLES = ("intermediate.written_key_builds", "intermediate.written_keys")


def warehouse_differences(
    left: Path, right: Path, min_tables: int, schemas: tuple[str, ...] | None = WAREHOUSE_SCHEMAS
) -> dict[str, tuple[int, int]]:
    """Every table of two warehouses' model schemas (``schemas``; None: every schema, raw and
    ops too) compared row for row (`EXCEPT ALL` both ways): the tables whose rows differ, with
    the count each way. Both warehouses must hold the same tables and views, at least
    ``min_tables`` tables. The keys a build wrote (macros/written_keys.sql) are compared by
    name only: they say how a table was built (a full build records none), not what it holds."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"attach '{left}' as a (read_only)")
    con.execute(f"attach '{right}' as b (read_only)")
    where = f"and schema_name in {schemas}" if schemas else ""
    listed, views = {}, {}
    for side in ("a", "b"):
        listed[side] = [
            f"{schema}.{table}"
            for schema, table in con.execute(
                "select schema_name, table_name from duckdb_tables() "
                f"where database_name = '{side}' {where} order by 1, 2"
            ).fetchall()
        ]
        views[side] = con.execute(
            "select schema_name, view_name from duckdb_views() "
            f"where database_name = '{side}' and not internal {where} order by 1, 2"
        ).fetchall()
    assert listed["a"] == listed["b"]
    assert views["a"] == views["b"]
    different = {}
    for table in listed["a"]:
        if table in WRITTEN_KEYS_TABLES:
            continue
        counts = tuple(
            con.execute(
                f"select count(*) from (select * from {x}.{table} except all select * from {y}.{table})"
            ).fetchone()[0]
            for x, y in (("a", "b"), ("b", "a"))
        )
        if any(counts):
            different[table] = counts
    con.close()
    assert len(listed["a"]) >= min_tables
    return different


def digest_tree(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` by its relative path: the sha256 of its bytes."""
    import hashlib

    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }
