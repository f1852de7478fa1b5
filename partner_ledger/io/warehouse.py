"""The raw layer of the warehouse: what ingestion writes and dbt reads as sources.

Every loaded file gets a ``delivery_seq`` from one sequence, in arrival order (then path), so
"the newest delivery wins" (SPEC §1.1) is ``order by delivery_seq desc, line_no desc``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

TRACKING_COLUMNS: dict[str, list[str]] = {
    "partners": [
        "partner_id",
        "program_id",
        "partner_code",
        "name",
        "email",
        "recruited_by",
        "joined_at",
        "status",
        "status_changed_at",
        "payout_method",
        "payout_account",
    ],
    "coupons": ["coupon_code", "program_id", "partner_id"],
    "clicks": [
        "click_id",
        "program_id",
        "partner_code",
        "occurred_at",
        "visitor_id",
        "landing_url",
    ],
    "leads": ["lead_id", "program_id", "partner_code", "email", "occurred_at"],
    "signups": ["program_id", "customer_key", "email", "occurred_at", "click_id", "visitor_id"],
    "sales": [
        "transaction_id",
        "program_id",
        "customer_key",
        "kind",
        "amount_cents",
        "currency",
        "occurred_at",
        "refund_of",
        "coupon_code",
    ],
    "adjustments": [
        "adjustment_id",
        "program_id",
        "partner_id",
        "amount_cents",
        "effective_at",
        "reason",
    ],
}

STRIPE_OBJECTS: list[str] = ["customers", "invoices", "charges", "refunds", "disputes"]

RAW_DDL = [
    "create schema if not exists raw",
    "create sequence if not exists raw.delivery_seq start 1",
    """
    create table if not exists raw.load_manifest (
        delivery_seq bigint primary key,
        source varchar not null,         -- tracking | stripe_file | stripe_api
        table_name varchar not null,     -- clicks, invoices, ...
        path varchar not null,           -- relative to the landing directory, or api:<object>
        sha256 varchar not null,
        rows_read bigint not null,
        rows_loaded bigint not null,
        rows_rejected bigint not null,
        loaded_at timestamp not null     -- wall clock of the load (UTC), for operators only
    )
    """,
    """
    create table if not exists raw.ingest_rejects (
        delivery_seq bigint not null,
        table_name varchar not null,
        file_path varchar not null,
        line_no bigint,
        raw_text varchar,
        reason varchar not null
    )
    """,
    """
    create table if not exists raw.file_states (
        path varchar primary key,        -- relative to the landing directory
        size_bytes bigint not null,
        mtime_ns bigint not null,
        ctime_ns bigint not null,        -- changes whenever the file is written or touched
        inode bigint not null,
        sha256 varchar not null,         -- of the content as it was at that state
        hashed_at timestamp not null     -- wall clock of the read (UTC), for operators only
    )
    """,
    """
    create table if not exists raw.published_settlements (
        program_id varchar not null,     -- what the published batch folders settled, per
        partner_id varchar not null,     -- partner and entry type: written by a rebuild only
        entry_type varchar not null,     -- (settle/rebuild.py, docs/decisions/0017)
        amount_cents bigint not null,
        period_start timestamp not null, -- the published period that settled it
        rebuilt_as_of date not null      -- the rebuild's as-of: its entries are recorded then
    )
    """,
    """
    create table if not exists raw.stripe_objects (
        delivery_seq bigint not null,
        file_path varchar not null,
        line_no bigint not null,
        object_type varchar not null,    -- customers | invoices | charges | refunds | disputes | ...
        object_id varchar not null,
        body varchar not null            -- the object's JSON, as delivered
    )
    """,
]


def tracking_ddl(table: str) -> str:
    cols = ",\n        ".join(f"{c} varchar" for c in TRACKING_COLUMNS[table])
    return f"""
    create table if not exists raw.tracking_{table} (
        delivery_seq bigint not null,
        file_path varchar not null,
        line_no bigint not null,
        {cols}
    )
    """


# Stateful relations that moved (docs/decisions/0025): (old schema, old name) -> (new schema,
# new name). The ledger stores hold paid history that no run can rebuild; the click cache is
# kept so that a large warehouse is not parsed again.
MOVED_RELATIONS: list[tuple[str, str, str, str]] = [
    ("intermediate", "int_ledger_accruals", "ledger", "ledger_entries"),
    ("intermediate", "int_payout_periods_closed", "ledger", "ledger_period_closes"),
    ("intermediate", "int_payout_statements", "ledger", "ledger_statements"),
    ("main", "fct_partner_tiers_monthly", "ledger", "ledger_partner_tiers_monthly"),
    ("intermediate", "int_clicks_parsed", "intermediate", "int_clicks_delivered"),
]
# Views under old names that dbt no longer builds (they would read relations that moved).
RETIRED_VIEWS: list[tuple[str, str]] = [
    ("intermediate", "int_touches_judged"),
    ("intermediate", "int_touches_evaluated"),
]


def next_delivery_seq(con: duckdb.DuckDBPyConnection) -> int:
    """The next delivery number, from the sequence `raw.delivery_seq`, and always above every
    number the load manifest records.

    DuckDB 1.5 does not log a number taken from a sequence when the transaction that took it
    writes nothing else (`select nextval(...)`), so the sequence survives only checkpoints. A
    run's working copy is checkpointed only at the commit (docs/decisions/0027): when a later
    task opens it again, the sequence can stand behind the numbers already recorded, and is
    moved past them here.
    """
    seq = int(con.execute("select nextval('raw.delivery_seq')").fetchone()[0])
    recorded = int(
        con.execute("select coalesce(max(delivery_seq), 0) from raw.load_manifest").fetchone()[0]
    )
    if seq > recorded:
        return seq
    con.execute(f"create or replace sequence raw.delivery_seq start {recorded + 2}")
    return recorded + 1


def _relation_type(con: duckdb.DuckDBPyConnection, schema: str, name: str) -> str | None:
    row = con.execute(
        "select table_type from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, name],
    ).fetchone()
    return row[0] if row else None


def migrate_moved_relations(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Move each stateful table of an older layout to its new name, when the new one does not
    exist yet (idempotent, in one transaction); returns the moves made, as "old -> new"."""
    moves = []
    con.execute("begin transaction")
    try:
        for old_schema, old_name, new_schema, new_name in MOVED_RELATIONS:
            if _relation_type(con, old_schema, old_name) != "BASE TABLE":
                continue
            if _relation_type(con, new_schema, new_name) is not None:
                continue
            con.execute(f"create schema if not exists {new_schema}")
            if old_schema == new_schema:
                con.execute(f"alter table {old_schema}.{old_name} rename to {new_name}")
            else:
                con.execute(
                    f"create table {new_schema}.{new_name} as select * from {old_schema}.{old_name}"
                )
                con.execute(f"drop table {old_schema}.{old_name}")
            moves.append(f"{old_schema}.{old_name} -> {new_schema}.{new_name}")
        for schema, name in RETIRED_VIEWS:
            if _relation_type(con, schema, name) == "VIEW":
                con.execute(f"drop view {schema}.{name}")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return moves


def ensure_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create the raw schema and its tables if they are missing, and move the stateful tables
    of an older layout to their current names (idempotent; before any dbt build)."""
    for ddl in RAW_DDL:
        con.execute(ddl)
    for table in TRACKING_COLUMNS:
        con.execute(tracking_ddl(table))
    migrate_moved_relations(con)


WORKING_FOLDER = ".run"
# A run's working copy never checkpoints on its own: its writes stay in its write-ahead log until
# the run commits (docs/decisions/0027). DuckDB checkpoints when the log outgrows this threshold,
# so it is set past any night's log, when the database opens (replaying the log on opening would
# checkpoint it too). The run's connections and dbt's (settle/dbt_plugin.py) open it with these
# settings alone: equal settings are what lets DuckDB share one open database between them.
HELD_SETTINGS = {"checkpoint_threshold": "1000GB"}


def holds_checkpoints(path: Path | str) -> bool:
    """A run's working copy that is a second name of the warehouse file
    (`<warehouse folder>/.run/<warehouse file name>`, settle/night.py): a checkpoint through it
    would commit into the warehouse. A working copy that is a file of its own (a copy, or the
    first night's new file) checkpoints as any database does: only its rename commits it."""
    path = Path(path)
    try:
        return path.parent.name == WORKING_FOLDER and path.stat().st_nlink > 1
    except FileNotFoundError:
        return False


def wal_path(path: Path) -> Path:
    """DuckDB's write-ahead log of a database file."""
    return path.with_name(path.name + ".wal")


def hold_checkpoints(con: duckdb.DuckDBPyConnection) -> None:
    """Keep this database's writes in its write-ahead log when its last connection closes
    (DuckDB checkpoints at that moment otherwise); the run's commit checkpoints them."""
    con.execute("pragma disable_checkpoint_on_shutdown")


# A checkpoint also compacts ("vacuums") the tables it writes that hold deleted rows, and it
# does so for a few replaced rows: a scoped model (macros/change_scope.sql) deletes and inserts
# the rows of its scope, and at M a night's 22,000 such rows made the commit rewrite most of a
# 1.9M-row table (0.8 s against 0.1 s). With every scoped table, compaction was 6.4 s of the
# 8.0 s commit of M's closing night. A commit therefore compacts only when some table holds
# deleted rows worth it: at least a fifth of its stored rows and a whole row group (DuckDB's
# 122,880 rows). It then compacts every table it writes (DuckDB chooses the row groups).
COMPACT_FROM_SHARE = 0.2
COMPACT_FROM_ROWS = 122_880
DUCKDB_VACUUM_TASKS = 100  # DuckDB's default max_vacuum_tasks


def deleted_rows(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int]]:
    """(deleted rows still stored, stored rows) of each table that holds deleted rows. DuckDB's
    estimated size of a table counts its stored rows, deleted ones included."""
    tables = con.execute(
        "select database_name, schema_name, table_name, estimated_size from duckdb_tables() "
        "where database_name = current_database() and not temporary"
    ).fetchall()
    result = {}
    for database, schema, name, stored in tables:
        # named in full: a warehouse file called ledger.duckdb is a catalog named like a schema
        (live,) = con.execute(f'select count(*) from "{database}"."{schema}"."{name}"').fetchone()
        if stored > live:
            result[f"{schema}.{name}"] = (stored - live, stored)
    return result


def worth_compacting(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The tables whose deleted rows are worth a compaction (COMPACT_FROM_SHARE, _ROWS)."""
    return sorted(
        name
        for name, (deleted, stored) in deleted_rows(con).items()
        if deleted >= COMPACT_FROM_ROWS and deleted >= COMPACT_FROM_SHARE * stored
    )


# dbt's tables keep their text without FSST compression: in dictionaries, or as plain text. A
# night reads the same keys again and again (paid events, ledger entries, clicks), and
# decompressing FSST strings was 14 % of the CPU of L's closing night; a scan of string keys
# costs 30-65 % less without it, the tables take 20-50 % more room (L's warehouse 16.2 -> 20.8
# GB). The setting is the database's, not a connection's: dbt's connections set it
# (settle/dbt_plugin.py) and so does the commit's checkpoint, which compresses the rows still in
# the night's log. The ingest's large loads, before dbt, keep DuckDB's default: the raw tables
# are written once and read again only for what a night loads (docs/decisions/0012, session 37).
TABLE_STORAGE = {"disabled_compression_methods": "fsst"}


def store_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Give the database the storage settings dbt's tables are written with (TABLE_STORAGE)."""
    for name, value in TABLE_STORAGE.items():
        con.execute(f"set {name} = '{value}'")


def checkpoint(con: duckdb.DuckDBPyConnection) -> list[str]:
    """CHECKPOINT, compacting only when some table's deleted rows are worth it (above); returns
    those tables (empty: nothing compacted)."""
    store_tables(con)
    compact = worth_compacting(con)
    con.execute(f"set max_vacuum_tasks = {DUCKDB_VACUUM_TASKS if compact else 0}")
    try:
        con.execute("checkpoint")
    finally:
        con.execute(f"set max_vacuum_tasks = {DUCKDB_VACUUM_TASKS}")
    return compact


# The open database of each second name of a warehouse in this process (see connect)
_HELD: dict[str, duckdb.DuckDBPyConnection] = {}


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection in UTC without a progress bar.

    A second name of the warehouse (a run's working copy, `holds_checkpoints`) opened for
    writing holds its checkpoints: nothing written reaches the file before the commit. Its
    database stays open in this process until `release`, and every later connection to it here
    (read-only ones too, and dbt's: settle/dbt_plugin.py opens it with the same settings) shares
    it: the log is not replayed at each task's open (1.1 s for an M night's 130 MB), and
    DuckDB's lock on the file is held from one task to the next.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    key = str(path.resolve())
    if holds_checkpoints(path) and (key in _HELD or not read_only):
        if key not in _HELD:
            held = duckdb.connect(key, config=dict(HELD_SETTINGS))
            hold_checkpoints(held)
            _HELD[key] = held
        return _configured(_HELD[key].cursor())
    return _configured(duckdb.connect(str(path), read_only=read_only))


def release(path: Path) -> None:
    """Close the database `connect` keeps open for a second name of the warehouse; its writes
    stay in its log. Before another process opens it (the stage's workers), and at the end of a
    run."""
    held = _HELD.pop(str(path.resolve()), None)
    if held is not None:
        held.close()


# DuckDB's memory cap, for every connection of a run as for dbt's (profiles.yml reads the same
# variable, with the same default). Unset, DuckDB takes 80 % of the machine: at L (50M clicks)
# the cold night's ingest, which opens the new warehouse before dbt sets its limit, peaked at
# 7.98 GB. Above the cap DuckDB spills to a temporary folder beside the database.
MEMORY_LIMIT_VARIABLE = "PARTNER_LEDGER_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "3GB"


# The ingest's cap, when the run's is higher. The ingest streams files into the raw tables and
# reads none of what it writes, yet DuckDB keeps the written blocks in memory up to its cap. L's
# ingest alone: 182.1 s and 3.86 GB at the run's 3 GB, 172.7 s and 3.29 GB at 2 GB (its cold
# night peaked in the ingest, at 4,057 MB).
INGEST_MEMORY_LIMIT = "2GB"
_SIZE_UNITS = {
    "b": 1,
    "kb": 10**3,
    "mb": 10**6,
    "gb": 10**9,
    "tb": 10**12,
    "kib": 2**10,
    "mib": 2**20,
    "gib": 2**30,
    "tib": 2**40,
}


def size_bytes(size: str) -> int:
    """Bytes of a size as `memory_limit` takes it ("3GB", "2500 MiB")."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-z]+)", size.strip().lower())
    if match is None or match.group(2) not in _SIZE_UNITS:
        raise ValueError(f"{size!r} is not a size such as 3GB or 2500MB")
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2)])


@contextmanager
def memory_capped(con: duckdb.DuckDBPyConnection, limit: str) -> Iterator[None]:
    """DuckDB's cap lowered to `limit` while the block runs, when the run's cap is higher (the
    setting is the database's: every connection to it has the lower cap), then the run's cap
    again. A connection opened inside the block (cursor) sets the run's cap back."""
    run_limit = memory_limit()
    lower = size_bytes(limit) < size_bytes(run_limit)
    if lower:
        con.execute(f"set memory_limit = '{limit}'")
    try:
        yield
    finally:
        if lower:
            con.execute(f"set memory_limit = '{run_limit}'")


def memory_limit() -> str:
    """The cap from the environment, else the default; refused unless it is a size."""
    value = os.environ.get(MEMORY_LIMIT_VARIABLE, "").strip() or DEFAULT_MEMORY_LIMIT
    try:
        size_bytes(value)  # a size, and nothing else, goes into `set memory_limit`
    except ValueError:
        raise ValueError(
            f"{MEMORY_LIMIT_VARIABLE}={value!r} is not a size such as 3GB or 2500MB"
        ) from None
    return value


def cursor(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """A second connection to the same database (for another thread), set up as ``connect``."""
    return _configured(con.cursor())


def _configured(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    con.execute("set TimeZone = 'UTC'")
    con.execute(f"set memory_limit = '{memory_limit()}'")
    # no progress bar in a run's output (DuckDB draws one for any query over two seconds)
    try:
        con.execute("set enable_progress_bar = false")
    except duckdb.InvalidInputException:
        # In a Jupyter kernel without ipywidgets (a notebook running a backtest) DuckDB refuses
        # to change the setting at all, and has it off already.
        pass
    return con
