"""Calling dbt in-process (dbtRunner) against the project at the repository root."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parents[2]

# what decides a model's SQL: the scoped models rebuild in full when any of it changes
# (macros/change_scope.sql, docs/decisions/0026)
CODE_PATHS = ("models", "macros", "dbt_project.yml")
CODE_PACKAGES = ("dbt-core", "dbt-duckdb", "duckdb")


@lru_cache(maxsize=1)
def code_fingerprint() -> str:
    """A hash of the project's SQL, macros and settings, of the dbt and DuckDB versions and of
    the tables' storage settings.

    Computed once per process (about 100 small files). A scoped model whose last build had
    another fingerprint is built in full.
    """
    from partner_ledger.io.warehouse import TABLE_STORAGE

    digest = hashlib.sha256()
    for name in CODE_PACKAGES:
        digest.update(f"{name}=={metadata.version(name)}\n".encode())
    # how the tables are stored: a change rewrites them (the next build is a full one)
    digest.update(f"{sorted(TABLE_STORAGE.items())}\n".encode())
    for entry in CODE_PATHS:
        root = PROJECT_DIR / entry
        files = sorted(root.rglob("*")) if root.is_dir() else [root]
        for path in files:
            if path.is_file() and path.suffix in (".sql", ".yml", ".yaml", ".csv"):
                digest.update(path.relative_to(PROJECT_DIR).as_posix().encode() + b"\0")
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:32]


def built_by_other_code(warehouse: Path) -> bool:
    """True when a scoped model's last build ran other code than this (its marks' fingerprint:
    an upgrade, another revision).

    Such a build recomputes every scoped model in full, but dbt's incremental materialization
    keeps a stored table's columns (the scoped models' strategies need that: their rows carry a
    flag column the table has not), so a column the new code adds would never reach the table
    and the models reading it would fail. dbt_build recreates the incremental tables instead
    (`--full-refresh`; the ledger's stores are exempt, `full_refresh: false`)."""
    if not warehouse.exists():
        return False
    from partner_ledger.io.warehouse import connect

    con = connect(warehouse, read_only=True)
    try:
        if not con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'intermediate' and table_name = 'scope_marks'"
        ).fetchone()[0]:
            return False
        codes = con.execute(
            "select distinct split_part(fingerprint, ':', 1) from intermediate.scope_marks"
        ).fetchall()
    finally:
        con.close()
    return any(code != code_fingerprint() for (code,) in codes)


class DbtError(RuntimeError):
    """dbt finished with failures; the message names the failing nodes."""


@dataclass(frozen=True)
class DbtResult:
    nodes: int
    failures: list[str]
    seconds_by_node: dict[str, float]  # each node's execution time (threads overlap)
    full_refresh: bool = False  # the incremental tables were recreated (built_by_other_code)

    def slowest(self, count: int = 10) -> list[tuple[str, float]]:
        return sorted(self.seconds_by_node.items(), key=lambda item: (-item[1], item[0]))[:count]


@contextmanager
def _env(values: dict[str, str]):
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


def _release_duckdb() -> None:
    """Close the database dbt-duckdb keeps open in this process after an in-process invoke.

    Its environment caches one connection per process; left open, the night's writes stay in
    the WAL and the file cannot be safely copied or renamed. There is no public call for it.
    """
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        if DuckDBConnectionManager._ENV is not None:
            DuckDBConnectionManager._ENV.close()
            DuckDBConnectionManager._ENV = None


def longest_chain_scores(graph) -> dict[str, tuple[int, int]]:
    """The order in which dbt starts the nodes that are ready: the node with the most nodes still
    to run after it, in a line, first (ties: the shallower node first, as dbt orders them).

    `graph`: the build's graph (networkx), where a data test comes before its model's children.
    dbt's own order starts the shallowest ready node first, so every staging view and test went
    before the chain of models the night waits on: L's chain started 4.3 s after it could have
    (docs/decisions/0012, session 22). The order never runs a node before its parents."""
    import networkx as nx

    after: dict[str, int] = {}
    for node in reversed(list(nx.topological_sort(graph))):
        after[node] = 1 + max((after[child] for child in graph.successors(node)), default=0)
    # dbt's own score: the node's generation in a topological sort (GraphQueue._get_scores)
    return {
        node: (-after[node], depth)
        for depth, generation in enumerate(nx.topological_generations(graph))
        for node in generation
    }


def _start_long_chains_first() -> None:
    """dbt's queue of ready nodes (GraphQueue) pops the lowest score; its scores are replaced by
    longest_chain_scores. dbt has no setting for it; a dbt without the method keeps its order."""
    from dbt.graph.queue import GraphQueue

    if hasattr(GraphQueue, "_get_scores"):
        GraphQueue._get_scores = lambda _queue, graph: longest_chain_scores(graph)


def invoke(
    args: list[str],
    env: dict[str, str],
    project_dir: Path = PROJECT_DIR,
    on_run_start: Callable[[], object] | None = None,
):
    """dbt in this process (dbtRunner) on the project at the repository root (or at
    `project_dir`): `args` (the command and its options), with `env` set for the call only.
    dbt-duckdb's cached database is closed after (_release_duckdb). Returns dbt's result
    (`success`, `result`, `exception`).

    `on_run_start` is called once, when dbt has loaded its project and is about to run the
    nodes (its event ConcurrencyLine, "Concurrency: N threads"): work started there in a thread
    of its own does not compete for the interpreter with dbt's import and parse, which are
    Python from end to end, but with the build, whose queries run in DuckDB's threads."""
    from dbt.cli.main import dbtRunner

    project = ["--project-dir", str(project_dir), "--profiles-dir", str(project_dir)]
    callbacks = [_once_on_event("ConcurrencyLine", on_run_start)] if on_run_start else []
    _start_long_chains_first()
    with _env(env):
        try:
            return dbtRunner(callbacks=callbacks).invoke([*args, *project])
        finally:
            _release_duckdb()


def _once_on_event(name: str, action: Callable[[], object]) -> Callable[[Any], None]:
    """A dbt event callback that calls `action` on the first event named `name`."""
    done = threading.Event()

    def callback(message: Any) -> None:
        if not done.is_set() and message.info.name == name:
            done.set()
            action()

    return callback


def dbt_build(
    warehouse: Path,
    as_of: str,
    *,
    select: str | None = None,
    target_dir: Path | None = None,
    log_dir: Path | None = None,
    threads: int | None = None,
    empty: bool = False,
    every_test: bool = False,
    project_dir: Path = PROJECT_DIR,
    on_run_start: Callable[[], object] | None = None,
) -> DbtResult:
    """`dbt build` (models and data tests) on `warehouse` for the night `as_of`.

    A night skips the data tests tagged ``checked_downstream``: tests of a view whose rows and
    key reach a table tested the same night (a test of a view computes the view again: ten
    million clicks at M, 9.6 s of a 79 s build). ``every_test`` runs them too (CI does).

    ``threads`` overrides the profile's (1 gives node timings that do not overlap). dbt's own
    log goes to ``log_dir`` (default: ``logs`` in the target folder), an owner-only folder,
    never the project's ``logs/``. ``project_dir`` builds another copy of the project (a test's
    mutant) under this code's fingerprint, so that its scoped models build as this code's would.
    ``on_run_start``: called once when dbt starts to run the nodes (invoke).
    """
    args = [
        "build",
        "--quiet",
        # manifest.json and run_results.json cost about 2 CPU-seconds a night to write and
        # nothing reads them: node timings come back in the result (DbtResult.seconds_by_node)
        # and the compiled SQL is still written under target/compiled
        "--no-write-json",
        # unit tests check the models' logic, not the night's data: CI runs them (`dbt test`)
        "--exclude-resource-type",
        "unit_test",
    ]
    if not every_test:
        args += ["--exclude", "tag:checked_downstream"]
    if select:
        args += ["--select", select]
    if threads:
        args += ["--threads", str(threads)]
    if empty:  # every model and its table, with no rows (a rebuild's start, settle/rebuild.py)
        args += ["--empty"]
    full_refresh = not empty and built_by_other_code(warehouse)
    if full_refresh:
        args += ["--full-refresh"]
    target = (target_dir or PROJECT_DIR / "target").resolve()
    logs = (log_dir or target / "logs").resolve()
    logs.mkdir(parents=True, exist_ok=True, mode=0o700)
    logs.chmod(0o700)
    env = {
        # the night's as-of goes in the environment, not --vars: a new --vars value makes dbt
        # re-parse the whole project every night (macros/as_of.sql)
        "PARTNER_LEDGER_AS_OF": as_of,
        "PARTNER_LEDGER_WAREHOUSE": str(warehouse.resolve()),
        "PARTNER_LEDGER_CODE_FINGERPRINT": code_fingerprint(),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(logs),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    result = invoke(args, env, project_dir, on_run_start=on_run_start)
    failures: list[str] = []
    seconds_by_node: dict[str, float] = {}
    if result.result is not None:
        for node_result in result.result:
            # the on-run-start hook (the scope marks' table, macros/change_scope.sql) is a
            # result too, but not a node of the graph
            if str(node_result.node.resource_type) != "operation":
                seconds_by_node[node_result.node.name] = round(node_result.execution_time, 3)
            status = str(node_result.status)
            if status in ("error", "fail", "runtime error"):
                lines = [line.strip() for line in (node_result.message or "").splitlines()]
                detail = " | ".join(line for line in lines if line)[:600]
                failures.append(f"{node_result.node.name}: {status}: {detail}")
    if not result.success:
        if result.exception is not None:
            failures.append(f"dbt: {result.exception}")
        raise DbtError("dbt build failed:\n" + "\n".join(failures or ["(no detail)"]))
    return DbtResult(
        nodes=len(seconds_by_node),
        failures=failures,
        seconds_by_node=seconds_by_node,
        full_refresh=full_refresh,
    )
