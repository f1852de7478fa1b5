"""Landing directory → raw DuckDB tables (SPEC §1.1, §1.2).

Each file is loaded once per content: a file whose sha256 differs from the last version loaded
from its path is a new delivery. Tracking CSVs are parsed by DuckDB's own reader (never as Python
rows), with structural failures (wrong field count, invalid UTF-8, broken quoting) captured as
``raw.ingest_rejects`` rows; everything semantic (timestamps, keys, amounts, enums) is judged by
the dbt staging models, per run. Line numbers are record numbers with the header as line 1.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from flows.warehouse import STRIPE_OBJECTS, TRACKING_COLUMNS, ensure_raw_schema

REJECT_REASONS = {  # DuckDB reject error type → quarantine reason
    "MISSING COLUMNS": "wrong_number_of_fields",
    "TOO MANY COLUMNS": "wrong_number_of_fields",
    "INVALID ENCODING": "invalid_utf8",
    "UNQUOTED VALUE": "malformed_quoting",
    "LINE SIZE OVER MAXIMUM": "line_too_long",
    "INVALID STATE": "malformed_csv",
}


@dataclass(frozen=True)
class FileLoad:
    table: str
    path: str
    rows_read: int
    rows_loaded: int
    rows_rejected: int


@dataclass
class IngestSummary:
    loads: list[FileLoad] = field(default_factory=list)
    skipped: int = 0

    @property
    def rows_read(self) -> int:
        return sum(load.rows_read for load in self.loads)

    @property
    def rows_loaded(self) -> int:
        return sum(load.rows_loaded for load in self.loads)

    @property
    def rows_rejected(self) -> int:
        return sum(load.rows_rejected for load in self.loads)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def tracking_files(landing: Path) -> list[tuple[str, Path]]:
    """Every tracking file of the landing directory, as (table, path), in path order."""
    found: list[tuple[str, Path]] = []
    for table in TRACKING_COLUMNS:
        folder = landing / "tracking" / table
        if folder.is_dir():
            files = [p for p in folder.iterdir() if p.name.endswith((".csv", ".csv.gz"))]
            found.extend((table, p) for p in files if p.is_file())
    return sorted(found, key=lambda item: item[1].relative_to(landing).as_posix())


def stripe_files(landing: Path) -> list[tuple[str, Path]]:
    found = [(obj, landing / "stripe" / f"{obj}.jsonl") for obj in STRIPE_OBJECTS]
    return [(obj, path) for obj, path in found if path.is_file()]


def _last_sha(con: duckdb.DuckDBPyConnection, rel_path: str) -> str | None:
    row = con.execute(
        "select sha256 from raw.load_manifest where path = ? order by delivery_seq desc limit 1",
        [rel_path],
    ).fetchone()
    return row[0] if row else None


def _next_seq(con: duckdb.DuckDBPyConnection) -> int:
    return int(con.execute("select nextval('raw.delivery_seq')").fetchone()[0])


def _read_header(path: Path) -> list[str] | None:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as handle:
            first = handle.readline().decode("utf-8-sig")
    except (UnicodeDecodeError, OSError, EOFError):
        return None
    if not first:
        return []
    return next(csv.reader(io.StringIO(first)), [])


def _record(
    con: duckdb.DuckDBPyConnection,
    seq: int,
    source: str,
    table: str,
    rel_path: str,
    sha: str,
    loaded: int,
    rejected: int,
) -> FileLoad:
    con.execute(
        "insert into raw.load_manifest values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            seq,
            source,
            table,
            rel_path,
            sha,
            loaded + rejected,
            loaded,
            rejected,
            datetime.now(UTC).replace(tzinfo=None),
        ],
    )
    return FileLoad(table, rel_path, loaded + rejected, loaded, rejected)


def _reject(
    con: duckdb.DuckDBPyConnection,
    seq: int,
    table: str,
    rel_path: str,
    line_no: int | None,
    raw_text: str | None,
    reason: str,
) -> None:
    con.execute(
        "insert into raw.ingest_rejects values (?, ?, ?, ?, ?, ?)",
        [seq, table, rel_path, line_no, raw_text, reason],
    )


def load_tracking_file(
    con: duckdb.DuckDBPyConnection, table: str, path: Path, rel_path: str, sha: str
) -> FileLoad:
    """Load one tracking CSV (plain or gzip) with DuckDB's reader; bad records become rejects."""
    seq = _next_seq(con)
    expected = TRACKING_COLUMNS[table]
    header = _read_header(path)
    if header is None or sorted(header) != sorted(expected):
        problem = (
            "file is not valid UTF-8 text"
            if header is None
            else f"unexpected header {header!r}, expected the columns {expected!r}"
        )
        _reject(con, seq, table, rel_path, 1, None, f"invalid_header: {problem}")
        return _record(con, seq, "tracking", table, rel_path, sha, 0, 1)

    columns = "{" + ", ".join(f"'{name}': 'VARCHAR'" for name in header) + "}"
    con.execute("drop table if exists temp.pl_rejects")
    con.execute("drop table if exists temp.pl_reject_scans")
    con.execute(
        f"""
        create or replace temp table pl_file as
        select row_number() over () as record_no, *
        from read_csv(?, header = true, auto_detect = false, columns = {columns},
                      delim = ',', quote = '"', escape = '"', strict_mode = true,
                      parallel = false, store_rejects = true,
                      rejects_table = 'pl_rejects', rejects_scan = 'pl_reject_scans')
        """,
        [str(path)],
    )
    # DuckDB reports one error per bad field; a record is quarantined once, for its first error.
    rejects = con.execute(
        """
        select line, arg_min(error_type::varchar, error_type::varchar != 'INVALID ENCODING'),
               any_value(csv_line)
        from temp.pl_rejects group by line order by line
        """
    ).fetchall()
    # DuckDB numbers records (header = 1); valid record k sits after every reject whose
    # record number leaves fewer than k valid records before it.
    reject_lines = [int(line) for line, _, _ in rejects]
    con.execute("create or replace temp table pl_reject_lines (line bigint, ordinal bigint)")
    if reject_lines:
        con.executemany(
            "insert into temp.pl_reject_lines values (?, ?)",
            [[line, i + 1] for i, line in enumerate(reject_lines)],
        )
    select_cols = ", ".join(expected)
    con.execute(
        f"""
        insert into raw.tracking_{table}
        select ?, ?, pl_file.record_no + 1 + (
                   select count(*) from temp.pl_reject_lines
                   where pl_reject_lines.line - 1 - pl_reject_lines.ordinal < pl_file.record_no
               ),
               {select_cols}
        from temp.pl_file
        """,
        [seq, rel_path],
    )
    loaded = int(con.execute("select count(*) from temp.pl_file").fetchone()[0])
    for line, error_type, csv_line in rejects:
        reason = REJECT_REASONS.get(error_type, error_type.lower().replace(" ", "_"))
        _reject(con, seq, table, rel_path, int(line), csv_line, reason)
    con.execute("drop table if exists temp.pl_file")
    return _record(con, seq, "tracking", table, rel_path, sha, loaded, len(rejects))


def load_stripe_file(
    con: duckdb.DuckDBPyConnection, obj: str, path: Path, rel_path: str, sha: str
) -> FileLoad:
    """Load one Stripe JSONL file: each line a JSON object with an ``id``, kept verbatim."""
    seq = _next_seq(con)
    good: list[tuple[int, str, int, str, str, str]] = []
    rejected = 0
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            reason = None
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                reason = "invalid_json"
                body = None
            if reason is None and not isinstance(body, dict):
                reason = "not_a_json_object"
            elif reason is None and not (isinstance(body.get("id"), str) and body["id"]):
                reason = "missing_id"
            if reason:
                rejected += 1
                _reject(con, seq, obj, rel_path, line_no, text, reason)
            else:
                good.append((seq, rel_path, line_no, obj, body["id"], text))
    if good:
        con.executemany("insert into raw.stripe_objects values (?, ?, ?, ?, ?, ?)", good)
    return _record(con, seq, "stripe_file", obj, rel_path, sha, len(good), rejected)


def ingest_landing(con: duckdb.DuckDBPyConnection, landing: Path) -> IngestSummary:
    """Load every new or changed file of the landing directory; return what was loaded."""
    ensure_raw_schema(con)
    summary = IngestSummary()
    candidates: list[tuple[str, str, Path]] = [
        ("tracking", table, path) for table, path in tracking_files(landing)
    ] + [("stripe", obj, path) for obj, path in stripe_files(landing)]
    for kind, table, path in candidates:
        rel_path = path.relative_to(landing).as_posix()
        sha = sha256_of(path)
        if _last_sha(con, rel_path) == sha:
            summary.skipped += 1
            continue
        con.execute("begin transaction")
        try:
            if kind == "tracking":
                load = load_tracking_file(con, table, path, rel_path, sha)
            else:
                load = load_stripe_file(con, table, path, rel_path, sha)
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
        summary.loads.append(load)
    return summary
