"""Landing directory → raw DuckDB tables (SPEC §1.1, §1.2).

Each file is loaded once per content: a file whose sha256 differs from the last version loaded
from its path is a new delivery. Tracking CSVs are parsed by DuckDB's own reader (never as Python
rows), with structural failures (wrong field count, invalid UTF-8, broken quoting) captured as
``raw.ingest_rejects`` rows; everything semantic (timestamps, keys, amounts, enums) is judged by
the dbt staging models, per run. Line numbers are record numbers with the header as line 1.
"""

from __future__ import annotations

import bisect
import csv
import gzip
import hashlib
import io
import json
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import orjson

from partner_ledger.io.warehouse import (
    INGEST_MEMORY_LIMIT,
    STRIPE_OBJECTS,
    TRACKING_COLUMNS,
    cursor,
    ensure_raw_schema,
    memory_capped,
    next_delivery_seq,
)

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


# a file's content hash, or its hash still being computed beside the file's load (_Hashes)
Sha = str | Future[str]


@dataclass
class _Hashes:
    """The content hashes of a night's landing files (content_shas), by position: a hash, or,
    for a file the warehouse never loaded, its hash being computed beside its load."""

    shas: list[Sha]
    # the files whose hash is computed beside their load: (path in the landing, stat state)
    pending: dict[int, tuple[str, tuple[int, int, int, int]]]

    def record(self, con: duckdb.DuckDBPyConnection) -> None:
        """Record the hashes computed beside the loads (raw.file_states), once every load has
        succeeded: each load's manifest row waited for its file's hash."""
        for i, (rel_path, state) in self.pending.items():
            _record_state(con, rel_path, state, resolved(self.shas[i]))


def _record_state(
    con: duckdb.DuckDBPyConnection, rel_path: str, state: tuple[int, int, int, int], sha: str
) -> None:
    con.execute(
        "insert or replace into raw.file_states values (?, ?, ?, ?, ?, ?, now()::timestamp)",
        [rel_path, *state, sha],
    )


def resolved(sha: Sha) -> str:
    """A content hash, waiting for it when it is still being computed."""
    return sha if isinstance(sha, str) else sha.result()


def content_shas(
    con: duckdb.DuckDBPyConnection,
    files: list[tuple[Path, str]],
    *,
    beside: ThreadPoolExecutor | None = None,
) -> _Hashes:
    """The sha256 of each landing file (path, path in the landing), read again only when the
    file may have changed.

    A file whose size, modification time, change time (ctime: set by the system on every write
    or metadata change, and not settable by users) and inode are those recorded when it was last
    hashed has not been written since, so its recorded hash stands; any other file is read and
    hashed. A night therefore reads the files that changed, not the whole landing history. The
    files to read are hashed on two threads (hashlib lets go of the GIL): at L, a first night
    hashes 12 GB, 13 s on one.

    With `beside`, a file whose path the warehouse never loaded is hashed there instead, and its
    hash is returned unfinished (a Future): such a file is loaded whatever its content, so its
    load need not wait for its hash, only its manifest row does. A first night at L hashed its
    12 GB for 16 s before it loaded a file; `beside` hashes each file while the files before it
    load (docs/decisions/0012, session 28).
    """
    stats = [path.stat() for path, _ in files]
    states = [(s.st_size, s.st_mtime_ns, s.st_ctime_ns, s.st_ino) for s in stats]
    recorded = {
        row[0]: (tuple(row[1:5]), row[5])
        for row in con.execute(
            "select path, size_bytes, mtime_ns, ctime_ns, inode, sha256 from raw.file_states"
        ).fetchall()
    }
    kept: dict[int, Sha] = {
        i: recorded[rel_path][1]
        for i, ((_, rel_path), state) in enumerate(zip(files, states, strict=True))
        if rel_path in recorded and recorded[rel_path][0] == state
    }
    stale = [i for i in range(len(files)) if i not in kept]
    never_loaded: set[str] = set()
    if beside is not None and stale:
        loaded = {
            row[0] for row in con.execute("select distinct path from raw.load_manifest").fetchall()
        }
        never_loaded = {files[i][1] for i in stale} - loaded
    later = [i for i in stale if files[i][1] in never_loaded]
    now = [i for i in stale if files[i][1] not in never_loaded]
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="hash") as pool:
        hashed = dict(zip(now, pool.map(lambda i: sha256_of(files[i][0]), now), strict=True))
    for i, sha in hashed.items():
        _record_state(con, files[i][1], states[i], sha)
    for i in later:  # in path order, as the loads take them
        kept[i] = beside.submit(sha256_of, files[i][0])
    return _Hashes(
        shas=[kept[i] if i in kept else hashed[i] for i in range(len(files))],
        pending={i: (files[i][1], states[i]) for i in later},
    )


def _last_sha(con: duckdb.DuckDBPyConnection, rel_path: str) -> str | None:
    row = con.execute(
        "select sha256 from raw.load_manifest where path = ? order by delivery_seq desc limit 1",
        [rel_path],
    ).fetchone()
    return row[0] if row else None


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
    sha: Sha,
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
            resolved(sha),
            loaded + rejected,
            loaded,
            rejected,
            datetime.now(UTC).replace(tzinfo=None),
        ],
    )
    return FileLoad(table, rel_path, loaded + rejected, loaded, rejected)


def _insert_arrow(
    con: duckdb.DuckDBPyConnection, table: str, names: list[str], rows: list[tuple | list]
) -> None:
    """Insert rows (all text but the first and third columns: delivery_seq, line_no) in one
    Arrow batch: row-by-row inserts cost seconds per ten thousand rows."""
    import pyarrow as pa

    if not rows:
        return
    columns = list(zip(*rows, strict=True))
    arrays = {
        name: pa.array(values, pa.int64() if name in ("delivery_seq", "line_no") else pa.string())
        for name, values in zip(names, columns, strict=True)
    }
    con.register("pl_arrow_batch", pa.table(arrays))
    try:
        con.execute(f"insert into {table} by name select * from pl_arrow_batch")
    finally:
        con.unregister("pl_arrow_batch")


REJECT_COLUMNS = ["delivery_seq", "table_name", "file_path", "line_no", "raw_text", "reason"]


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


def _physical_records(path: Path) -> int:
    """Lines after the header. DuckDB's record count equals it only when every line is one
    record: a blank line or a field spanning lines makes them differ, and then DuckDB's record
    numbers are not line numbers, so the exact parser must read the file."""
    opener = gzip.open if path.name.endswith(".gz") else open
    lines = 0
    last = b""
    with opener(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            lines += chunk.count(b"\n")
            last = chunk[-1:]
    if last not in (b"\n", b""):
        lines += 1  # a last line without its newline
    return max(lines - 1, 0)


class _Unfaithful(Exception):
    """DuckDB's two passes over a file disagreed on its rejects: the exact parser reads it."""


def _csv_reader(table_name: str, columns: str) -> str:
    """DuckDB's CSV reader of a tracking file (its path the query's first parameter), keeping
    what it rejects in temp table ``table_name``."""
    return f"""read_csv(?, header = true, auto_detect = false, columns = {columns},
                        delim = ',', quote = '"', escape = '"', strict_mode = true,
                        parallel = false, store_rejects = true,
                        rejects_table = '{table_name}', rejects_scan = '{table_name}_scans')"""


SHIFT_BLOCK = 1024  # records per row of the line-number lookup (_line_shift_blocks)


def _line_shift_blocks(reject_lines: list[int], records: int) -> list[tuple[int, int, list | None]]:
    """How far each valid record's line is pushed down by the rejects before it, by block of
    SHIFT_BLOCK record numbers: (block, shift, shifts), where shifts (one per record of the
    block, in order) is given only for a block that a reject falls into, and shift holds for
    every record of the other blocks.

    Valid record k (numbered from 1) sits on line k + 1 + the rejects before it. Reject j (in
    line order, from 1) is before it when the valid records before the reject (its line − 1 −
    j) are fewer than k: the shift of record k is the count of those thresholds below k."""
    thresholds = [line - 1 - j for j, line in enumerate(reject_lines, start=1)]
    blocks: list[tuple[int, int, list | None]] = []
    for block in range(records // SHIFT_BLOCK + 1):
        first = block * SHIFT_BLOCK
        shift = bisect.bisect_left(thresholds, first)
        if shift == bisect.bisect_left(thresholds, first + SHIFT_BLOCK - 1):
            blocks.append((block, shift, None))
        else:
            shifts = [bisect.bisect_left(thresholds, k) for k in range(first, first + SHIFT_BLOCK)]
            blocks.append((block, shift, shifts))
    return blocks


def _load_with_duckdb(
    con: duckdb.DuckDBPyConnection,
    table: str,
    path: Path,
    rel_path: str,
    seq: int,
    header: list[str],
) -> tuple[int, list[tuple[int, str, str]]]:
    """DuckDB's reader straight into the raw table; returns (rows loaded, rejected records).

    The file is read twice. The first pass parses every field and only keeps the rejects (an
    invalid byte is found in any column). The insert then numbers each valid record with its
    line as it streams: its record number, plus the rejects before it, looked up by block
    (_line_shift_blocks; a hash join on a table of a few thousand rows). At L, correcting the
    numbers afterwards (an update of the file's rows) took 7.7 s of a 2.5-million-record clicks
    file's 13.5 s, and an ASOF join on the rejects tripled the load's memory (it sorts every
    record); the first pass costs 0.9 s. When the two passes reject different records, the
    file is read by the exact parser instead (_Unfaithful)."""
    columns = "{" + ", ".join(f"'{name}': 'VARCHAR'" for name in header) + "}"
    for name in ("pl_rejects", "pl_rejects_scans", "pl_insert_rejects", "pl_insert_rejects_scans"):
        con.execute(f"drop table if exists temp.{name}")
    wanted = TRACKING_COLUMNS[table]
    records = con.execute(
        f"select count(*), {', '.join(f'count({name})' for name in wanted)} "
        f"from {_csv_reader('pl_rejects', columns)}",
        [str(path)],
    ).fetchone()[0]
    # DuckDB reports one error per bad field; a record is quarantined once, for its first error.
    rejects = con.execute(
        """
        select line, arg_min(error_type::varchar, error_type::varchar != 'INVALID ENCODING'),
               any_value(csv_line)
        from temp.pl_rejects group by line order by line
        """
    ).fetchall()
    select_cols = ", ".join(f"records.{name}" for name in wanted)
    line_no = "records.record_no + 1"
    shift_join = ""
    if rejects:
        import pyarrow as pa

        blocks = _line_shift_blocks([int(line) for line, _, _ in rejects], int(records))
        block_ids, shifts, block_shifts = (list(column) for column in zip(*blocks, strict=True))
        con.register(
            "pl_shift_blocks",
            pa.table(
                {
                    "block": pa.array(block_ids, pa.int64()),
                    "shift": pa.array(shifts, pa.int64()),
                    "shifts": pa.array(block_shifts, pa.list_(pa.int64())),
                }
            ),
        )
        offset = f"records.record_no % {SHIFT_BLOCK} + 1"
        line_no += f" + coalesce(blocks.shifts[{offset}], blocks.shift)"
        shift_join = (
            f"left join pl_shift_blocks as blocks "
            f"on records.record_no // {SHIFT_BLOCK} = blocks.block"
        )
    try:
        loaded = con.execute(
            f"""
            insert into raw.tracking_{table}
            select ?, ?, {line_no}, {select_cols}
            from (
                select row_number() over () as record_no, *
                from {_csv_reader("pl_insert_rejects", columns)}
            ) as records
            {shift_join}
            """,
            [seq, rel_path, str(path)],
        ).fetchone()[0]
    finally:
        if rejects:
            con.unregister("pl_shift_blocks")
    inserted_rejects = con.execute(
        "select distinct line from temp.pl_insert_rejects order by line"
    ).fetchall()
    if [int(line) for (line,) in inserted_rejects] != [int(line) for line, _, _ in rejects]:
        raise _Unfaithful(rel_path)
    return int(loaded), [(int(line), str(kind), text) for line, kind, text in rejects]


MAX_RECORD_LINES = 100  # a quoted field spanning more lines is a broken quote, not a long text


def _readable(text: str) -> str:
    """Text as it can be stored and shown: bytes that were not UTF-8 (kept by surrogateescape)
    become U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _load_with_python(
    con: duckdb.DuckDBPyConnection,
    table: str,
    path: Path,
    rel_path: str,
    seq: int,
    header: list[str],
) -> tuple[int, list[tuple[int, str, str]]]:
    """Exact streaming parse (Python's csv module) for files DuckDB cannot read faithfully:
    broken quoting, mixed line endings, fields spanning lines, invalid UTF-8. Line numbers are
    the physical line where each record starts.

    A quoted field may span lines. When a record that spans lines does not parse (a stray quote
    opened it), or is still open after MAX_RECORD_LINES lines or at the end of the file, only its
    first line is quarantined and parsing starts again at the next line: one broken quote costs
    one line, never the rest of the file.
    """
    opener = gzip.open if path.name.endswith(".gz") else open
    wanted = [header.index(name) for name in TRACKING_COLUMNS[table]]
    rejects: list[tuple[int, str, str]] = []
    batch: list[list] = []
    loaded = 0
    names = ["delivery_seq", "file_path", "line_no", *TRACKING_COLUMNS[table]]

    def insert(rows: list[list]) -> None:
        _insert_arrow(con, f"raw.tracking_{table}", names, rows)

    def judge(lines: list[tuple[int, str]]) -> tuple[str, list[str] | str]:
        """('ok', fields) or (error type, raw text) for one candidate record."""
        raw_text = "".join(text for _, text in lines).rstrip("\r\n")
        if raw_text.count('"') % 2 == 1:
            return "UNQUOTED VALUE", raw_text
        try:
            fields = next(csv.reader([raw_text], strict=True))
        except csv.Error:
            return "UNQUOTED VALUE", raw_text
        if any("\udc80" <= ch <= "\udcff" for ch in raw_text):
            return "INVALID ENCODING", raw_text
        if len(fields) != len(header):
            return "MISSING COLUMNS", raw_text
        return "ok", fields

    with opener(path, "rb") as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", errors="surrogateescape", newline="")
        source = enumerate(text, start=1)
        next(source, None)  # header, already checked
        pushed_back: list[tuple[int, str]] = []  # lines to read again, the next one last
        pending: list[tuple[int, str]] = []
        odd_quotes = False
        while True:
            item = pushed_back.pop() if pushed_back else next(source, None)
            if item is not None:
                if not pending and not item[1].strip("\r\n"):
                    continue  # a blank line is no record
                pending.append(item)
                odd_quotes ^= item[1].count('"') % 2 == 1
                if odd_quotes and len(pending) < MAX_RECORD_LINES:
                    continue  # a quoted field goes on to the next line
            elif not pending:
                break
            verdict, value = judge(pending)
            if verdict != "ok" and len(pending) > 1:
                # the record that spans lines is not one: its first line alone is quarantined
                first_verdict, first_value = judge(pending[:1])
                rejects.append(
                    (
                        pending[0][0],
                        first_verdict if first_verdict != "ok" else verdict,
                        _readable(pending[0][1].rstrip("\r\n")),
                    )
                )
                pushed_back.extend(reversed(pending[1:]))
            elif verdict != "ok":
                rejects.append((pending[0][0], verdict, _readable(str(value))))
            else:
                fields = value
                batch.append(
                    [
                        seq,
                        rel_path,
                        pending[0][0],
                        *[fields[i] if fields[i] != "" else None for i in wanted],
                    ]
                )
                if len(batch) >= 10_000:
                    insert(batch)
                    loaded += len(batch)
                    batch = []
            pending = []
            odd_quotes = False
    if batch:
        insert(batch)
        loaded += len(batch)
    return loaded, rejects


def load_tracking_file(
    con: duckdb.DuckDBPyConnection,
    table: str,
    path: Path,
    rel_path: str,
    sha: Sha,
    seq: int | None = None,
) -> FileLoad:
    """Load one tracking CSV (plain or gzip); bad records become rejects, never silent drops.

    DuckDB's reader does the work (no Python rows). Its result is checked against the file's
    line count; when it raised, or accounts for fewer records than the file has lines (blank
    lines, broken quoting, mixed line endings, fields spanning lines), the file is read again
    by the exact streaming parser instead.
    """
    seq = next_delivery_seq(con) if seq is None else seq
    expected = TRACKING_COLUMNS[table]
    header = _read_header(path)
    con.execute("begin transaction")
    try:
        if header is None or sorted(header) != sorted(expected):
            problem = (
                "file is not valid UTF-8 text"
                if header is None
                else f"unexpected header {header!r}, expected the columns {expected!r}"
            )
            _reject(con, seq, table, rel_path, 1, None, f"invalid_header: {problem}")
            load = _record(con, seq, "tracking", table, rel_path, sha, 0, 1)
            con.execute("commit")
            return load
        loaded, rejects = _load_with_duckdb(con, table, path, rel_path, seq, header)
        faithful = loaded + len(rejects) == _physical_records(path)
    except (duckdb.Error, _Unfaithful):
        faithful = False
    if faithful:
        return _finish(con, seq, table, rel_path, sha, loaded, rejects)
    # DuckDB failed or lost records: start the file again with the exact parser.
    con.execute("rollback")
    con.execute("begin transaction")
    loaded, rejects = _load_with_python(con, table, path, rel_path, seq, header)
    return _finish(con, seq, table, rel_path, sha, loaded, rejects)


def _finish(
    con: duckdb.DuckDBPyConnection,
    seq: int,
    table: str,
    rel_path: str,
    sha: Sha,
    loaded: int,
    rejects: list[tuple[int, str, str]],
) -> FileLoad:
    """Write a file's rejects and manifest row, and commit the file's transaction."""
    try:
        _insert_arrow(
            con,
            "raw.ingest_rejects",
            REJECT_COLUMNS,
            [
                (
                    seq,
                    table,
                    rel_path,
                    line,
                    csv_line,
                    REJECT_REASONS.get(error_type, error_type.lower().replace(" ", "_")),
                )
                for line, error_type, csv_line in rejects
            ],
        )
        load = _record(con, seq, "tracking", table, rel_path, sha, loaded, len(rejects))
        con.execute("commit")
    except Exception:
        con.execute("rollback")
        raise
    return load


STRIPE_BATCH_LINES = 50_000  # lines inserted at a time: memory stays flat whatever the file
STRIPE_COMMIT_LINES = 500_000  # lines per transaction (load_stripe_file)


@dataclass
class _StripeBatch:
    """Accepted lines waiting to be inserted: their numbers, ids and bytes as delivered."""

    line_nos: list[int] = field(default_factory=list)
    object_ids: list[str] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)

    def insert(self, con: duckdb.DuckDBPyConnection, seq: int, rel_path: str, obj: str) -> int:
        """Insert the batch as one Arrow table, the body decoded and its line end trimmed by
        Arrow (not line by line in Python, nor by DuckDB's rtrim, which tripled the insert's
        CPU); return how many lines it held. Every line was parsed as UTF-8 JSON already."""
        import pyarrow as pa
        import pyarrow.compute as pc

        count = len(self.line_nos)
        if not count:
            return 0
        body = pc.utf8_rtrim(pa.array(self.lines, pa.binary()).cast(pa.string()), "\r\n")
        batch = pa.table(
            {
                "line_no": pa.array(self.line_nos, pa.int64()),
                "object_id": pa.array(self.object_ids, pa.string()),
                "body": body,
            }
        )
        con.register("pl_stripe_batch", batch)
        con.execute(
            "insert into raw.stripe_objects select ?, ?, line_no, ?, object_id, body "
            "from pl_stripe_batch",
            [seq, rel_path, obj],
        )
        con.unregister("pl_stripe_batch")
        self.line_nos, self.object_ids, self.lines = [], [], []
        return count


_NOT_JSON = object()


def parse_json_line(raw: bytes) -> tuple[object, bool]:
    """The JSON value of one line (or _NOT_JSON) and whether the strict parser took it.

    orjson (strict RFC 8259, about 5x faster) decides almost every line; a line it refuses is
    judged by Python's json module, which also takes what orjson refuses and JSON texts in the
    wild carry (NaN, lone surrogate escapes), so which lines parse is exactly what json.loads
    alone decided."""
    try:
        return orjson.loads(raw), True
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(raw.decode("utf-8")), False
    except (UnicodeDecodeError, json.JSONDecodeError):
        return _NOT_JSON, False


def _is_unicode(body: object) -> bool:
    """Whether every key and string of a parsed JSON value is text (no lone surrogate)."""
    try:
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def load_stripe_file(
    con: duckdb.DuckDBPyConnection,
    obj: str,
    path: Path,
    rel_path: str,
    sha: Sha,
    seq: int | None = None,
) -> FileLoad:
    """Load one Stripe JSONL file: each line a JSON object with an ``id``, kept verbatim.

    Lines (and rejects) go in as Arrow batches of STRIPE_BATCH_LINES, committed every
    STRIPE_COMMIT_LINES: DuckDB keeps what a transaction appends in memory until it commits (at
    L, invoices.jsonl's 7.5 million lines in one transaction peaked at 6.4 GB under a 3 GB cap;
    committed every 500,000 lines, at 2.6 GB, in the same time). The file still loads whole or
    not at all: when it fails, the rows and rejects of its delivery are deleted, and its
    manifest row, written last, never is. A run that dies mid-file leaves its working copy,
    which the next run discards (docs/decisions/0027).
    """
    seq = next_delivery_seq(con) if seq is None else seq
    con.execute("begin transaction")
    try:
        load = _load_stripe_lines(con, obj, path, rel_path, sha, seq)
        con.execute("commit")
    except BaseException as failure:
        _rollback_if_open(con)
        try:
            _forget_delivery(con, seq)
        except duckdb.Error as cleanup:
            failure.add_note(f"and the rows it had committed could not be deleted: {cleanup}")
        raise
    return load


def _load_stripe_lines(
    con: duckdb.DuckDBPyConnection, obj: str, path: Path, rel_path: str, sha: Sha, seq: int
) -> FileLoad:
    """The body of load_stripe_file, in its open transaction (committed as it goes)."""
    batch = _StripeBatch()
    loaded = committed = 0
    rejected: list[tuple[int, str, str, int, str, str]] = []
    rejected_count = 0
    with path.open("rb") as handle:
        for line_no, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            body, strict = parse_json_line(raw)
            if body is _NOT_JSON:
                reason = "invalid_json"
            elif not isinstance(body, dict):
                reason = "not_a_json_object"
            elif not (isinstance(body.get("id"), str) and body["id"]):
                reason = "missing_id"
            elif not strict and not _is_unicode(body):
                # a lone surrogate escape (\ud800) is JSON to Python but no text to DuckDB
                # (orjson refuses it, so only lines orjson refused can hold one)
                reason = "invalid_json"
            else:
                batch.line_nos.append(line_no)
                batch.object_ids.append(body["id"])
                batch.lines.append(raw)
                if len(batch.line_nos) == STRIPE_BATCH_LINES:
                    loaded += batch.insert(con, seq, rel_path, obj)
                    if loaded - committed >= STRIPE_COMMIT_LINES:
                        con.execute("commit")
                        con.execute("begin transaction")
                        committed = loaded
                continue
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            rejected.append((seq, obj, rel_path, line_no, text, reason))
            rejected_count += 1
            if len(rejected) == STRIPE_BATCH_LINES:
                _insert_arrow(con, "raw.ingest_rejects", REJECT_COLUMNS, rejected)
                rejected = []
    loaded += batch.insert(con, seq, rel_path, obj)
    _insert_arrow(con, "raw.ingest_rejects", REJECT_COLUMNS, rejected)
    return _record(con, seq, "stripe_file", obj, rel_path, sha, loaded, rejected_count)


def _rollback_if_open(con: duckdb.DuckDBPyConnection) -> None:
    try:
        con.execute("rollback")
    except duckdb.TransactionException:
        pass  # no transaction open: the failure came between a commit and the next begin


def _forget_delivery(con: duckdb.DuckDBPyConnection, seq: int) -> None:
    """Delete what a failed Stripe file committed before it failed (its manifest row comes
    last, so there is none)."""
    con.execute("begin transaction")
    con.execute("delete from raw.stripe_objects where delivery_seq = ?", [seq])
    con.execute("delete from raw.ingest_rejects where delivery_seq = ?", [seq])
    con.execute("commit")


def ingest_landing(con: duckdb.DuckDBPyConnection, landing: Path) -> IngestSummary:
    """Load every new or changed file of the landing directory; return what was loaded.

    The files to load and their delivery numbers are decided first, in path order (so the
    numbers never depend on timing). Then two connections load them side by side: one takes
    the Stripe files in path order, then helps with the tracking files; the other takes the
    tracking files, one at a time from the same queue, in path order. DuckDB reads a CSV in one
    thread (its record numbers must follow the file) while a Stripe file is mostly Python
    checking JSON lines, so on two cores the two overlap instead of adding up, and once the
    Stripe files are in, two tracking files load at once (at L, twelve clicks files of about
    30 s each were left to one connection). Each file is still one transaction; after a
    failure no new file is started, and the ingest stops with the first error in path order."""
    ensure_raw_schema(con)
    summary = IngestSummary()
    candidates: list[tuple[str, str, Path]] = [
        ("tracking", table, path) for table, path in tracking_files(landing)
    ] + [("stripe", obj, path) for obj, path in stripe_files(landing)]
    todo: dict[str, list[_Delivery]] = {"tracking": [], "stripe": []}
    rel_paths = [path.relative_to(landing).as_posix() for _, _, path in candidates]
    files = [(path, rel) for (_, _, path), rel in zip(candidates, rel_paths, strict=True)]
    # the files never loaded are hashed on a thread of their own while the loads run
    beside = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hash-beside")
    try:
        hashes = content_shas(con, files, beside=beside)
        for (kind, table, path), rel_path, sha in zip(
            candidates, rel_paths, hashes.shas, strict=True
        ):
            if _last_sha(con, rel_path) == sha:
                summary.skipped += 1
                continue
            todo[kind].append((table, path, rel_path, sha, next_delivery_seq(con)))
        summary.loads.extend(_load_side_by_side(con, todo["stripe"], todo["tracking"]))
        hashes.record(con)
    finally:
        # after a failure, the files not loaded yet are not hashed
        beside.shutdown(wait=True, cancel_futures=True)
    return summary


# (table or object type, path, path in the landing, content hash, delivery number)
_Delivery = tuple[str, Path, str, Sha, int]


class _Queue:
    """The tracking files, handed out one at a time in path order, and nothing more once a
    load has failed."""

    def __init__(self, files: list[_Delivery]) -> None:
        self._files = list(reversed(files))
        self._lock = threading.Lock()
        self.failed = False

    def take(self) -> _Delivery | None:
        with self._lock:
            return self._files.pop() if self._files and not self.failed else None

    def stop(self) -> None:
        with self._lock:
            self.failed = True


def _load_side_by_side(
    con: duckdb.DuckDBPyConnection, stripe: list[_Delivery], tracking: list[_Delivery]
) -> list[FileLoad]:
    """Load the Stripe files, then tracking files, on one connection, and tracking files on
    another (ingest_landing); the loads in delivery order."""
    queue = _Queue(tracking)

    def work(own: duckdb.DuckDBPyConnection, first: list[_Delivery]) -> _Loaded:
        loaded = _Loaded()
        going = all(not queue.failed and loaded.load(own, load_stripe_file, item) for item in first)
        while going and (item := queue.take()) is not None:
            going = loaded.load(own, load_tracking_file, item)
        if loaded.failure is not None:
            queue.stop()  # the other connection starts no new file
        return loaded

    side_by_side = len(tracking) + min(len(stripe), 1) >= 2
    cursors = [cursor(con), cursor(con)] if side_by_side else []
    try:
        with memory_capped(con, INGEST_MEMORY_LIMIT):
            if not side_by_side:
                results = [work(con, stripe)]
            else:
                with ThreadPoolExecutor(max_workers=2, thread_name_prefix="ingest") as pool:
                    futures = [
                        pool.submit(work, cursors[0], stripe),
                        pool.submit(work, cursors[1], []),
                    ]
                    results = [future.result() for future in futures]
    finally:
        for own in cursors:
            own.close()
    failures = [result.failure for result in results if result.failure is not None]
    if failures:
        raise min(failures, key=lambda failure: failure[0])[1]
    return [load for _, load in sorted(pair for result in results for pair in result.loads)]


class _Loaded:
    """What one connection loaded, by delivery number, and the first load that failed."""

    def __init__(self) -> None:
        self.loads: list[tuple[int, FileLoad]] = []
        self.failure: tuple[int, BaseException] | None = None

    def load(
        self,
        con: duckdb.DuckDBPyConnection,
        loader: Callable[[duckdb.DuckDBPyConnection, str, Path, str, str, int], FileLoad],
        item: _Delivery,
    ) -> bool:
        table, path, rel_path, sha, seq = item
        try:
            self.loads.append((seq, loader(con, table, path, rel_path, sha, seq)))
        except Exception as error:  # noqa: BLE001 - raised by the ingest, first in path order
            self.failure = (seq, error)
            return False
        return True
