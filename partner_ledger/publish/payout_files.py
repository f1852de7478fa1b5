"""Payout files per closed period (SPEC §3.2): written aside, fsynced, renamed into place.

A batch folder is complete or absent: files are written into a hidden sibling folder, each file
and the folder are fsynced, and the folder is renamed to ``<out>/payouts/<program>/<YYYY-MM>``.
A folder that exists is never rewritten (a closed period is immutable); a run killed mid-publish
leaves only a hidden temporary folder, which the next run discards and redoes. Everything is
derived from the warehouse, deterministically, so a redone publish is byte-identical.

Publishing is part of the commit (docs/decisions/0014-publish-in-the-commit.md): the nightly run first
stages every missing batch folder from its working copy (``stage_missing``: rendered, checked,
written aside), only then commits the warehouse, and then moves the staged folders into place
(``place_staged``). A batch whose files cannot be produced fails the run before the commit.

CSV files neutralise spreadsheet formulas (``partner_ledger.publish.formula.csv_cell``); Parquet
and SEPA keep the values. The columns are those of the export models' contracts (``contract``).
"""

from __future__ import annotations

import csv
import ctypes
import functools
import hashlib
import io
import json
import os
import shutil
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from partner_ledger.publish.contract import contract_columns
from partner_ledger.publish.formula import csv_cell
from partner_ledger.publish.rails import rail_files
from partner_ledger.publish.review import held_batches, review_folder, review_note
from partner_ledger.publish.statements_html import statement_files

# the files' columns, in order, as the export models' enforced contracts declare them; statements.csv
# is one batch's, so its batch_id is the folder, not a column (SPEC §3.2)
PAYOUT_COLUMNS = list(contract_columns("exp_payouts"))
STATEMENT_COLUMNS = [name for name in contract_columns("exp_statements") if name != "batch_id"]
PAIN_NS = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"
STAGE_PREFIX = ".tmp-"  # a batch folder being written: hidden, beside its final place


class PublishError(RuntimeError):
    """A batch's files cannot be produced; the message names the batch and the reason."""


@dataclass(frozen=True)
class Batch:
    batch_id: str
    program_id: str
    period: str
    as_of: date
    currency: str
    row_count: int
    total_cents: int
    debtor_name: str | None
    debtor_iban: str | None
    debtor_bic: str | None


@dataclass(frozen=True)
class PublishedBatch:
    batch_id: str
    folder: Path
    row_count: int
    total_cents: int
    files: tuple[str, ...]


def batch_folder(out: Path, program_id: str, period: str) -> Path:
    return out / "payouts" / program_id / period


def _csv_bytes(columns: list[str], rows: list[tuple]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
    return buffer.getvalue().encode("utf-8")


def _parquet_bytes(columns: list[str], rows: list[tuple]) -> bytes:
    schema = pa.schema(
        [(name, pa.int64() if name == "amount_cents" else pa.string()) for name in columns]
    )
    table = pa.Table.from_pylist([dict(zip(columns, row, strict=True)) for row in rows], schema)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def sepa_text(text: str) -> str:
    """Text as an XML 1.0 document can hold it: control characters (U+0000-U+001F, DEL, C1) become
    spaces, runs of whitespace one space, and the ends are trimmed. Markup needs nothing here:
    the XML writer escapes it."""
    cleaned = "".join(" " if unicodedata.category(char) == "Cc" else char for char in text)
    return " ".join(cleaned.split())


@functools.cache
def _pain_schema():
    """The pain.001.001.03 schema (sepaxml's copy), parsed once per process by libxml2.

    libxml2 (lxml) parses the schema in 13 ms of CPU and checks L's December file (4,162
    transfers, 1.3 MB) in 34 ms; xmlschema, in Python, took 0.2-0.9 s and 1.05 s
    (docs/decisions/0012, session 21)."""
    import sepaxml
    from lxml import etree

    return etree.XMLSchema(
        etree.parse(str(Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd"))
    )


class SepaInvalid(ValueError):
    """A sepa.xml that is not a valid pain.001.001.03 document."""


def validate_pain001(content: bytes) -> None:
    """Raise SepaInvalid unless `content` is a valid pain.001.001.03 document. The message names
    the first offending element by its path and the rule it breaks, never its value (an IBAN
    or a name must not reach a log)."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        document = etree.fromstring(content, parser)
    except etree.XMLSyntaxError as exc:
        raise SepaInvalid(f"sepa.xml is not well-formed XML (line {exc.lineno})") from None
    schema = _pain_schema()
    if not schema.validate(document):
        error = schema.error_log[0]
        raise SepaInvalid(
            f"sepa.xml breaks the pain.001.001.03 schema at "
            f"{_element_path(document, error.path)}: {error.type_name}"
        )


def _element_path(document, path: str) -> str:
    """libxml2's path of an element (`/*/*/*[2]/*[9]`: in a namespaced document, the n-th child
    element) named as finance reads it: `Document/CstmrCdtTrfInitn/PmtInf/DbtrAcct/...`, with
    an element's position among its namesakes where it has some (`CdtTrfTxInf[3]`)."""
    steps = [step for step in (path or "").split("/") if step]
    node, names = None, []
    for step in steps:
        index = int(step[step.index("[") + 1 : -1]) if step.endswith("]") else 1
        children = [document] if node is None else [c for c in node if isinstance(c.tag, str)]
        if not 0 < index <= len(children):
            return path
        node = children[index - 1]
        name = node.tag.rsplit("}", 1)[-1]
        namesakes = [c for c in children if c.tag == node.tag]
        names.append(f"{name}[{namesakes.index(node) + 1}]" if len(namesakes) > 1 else name)
    return "/".join(names) or path


def _sepa_xml(batch: Batch, lines: list[tuple]) -> bytes:
    """pain.001.001.03 for the batch's sepa lines, validated against the schema once the ids are
    stamped (the file as written, not sepaxml's draft of it).

    sepaxml stamps the wall clock and random ids; they are replaced by the batch id and the
    close's as-of so that the file depends on the batch alone. Names and ids go through
    ``sepa_text`` (a partner's name may hold a control character no XML document can carry).
    """
    from sepaxml import SepaTransfer

    transfer = SepaTransfer(
        {
            "name": sepa_text(batch.debtor_name or ""),
            "IBAN": batch.debtor_iban.replace(" ", "").upper(),
            "BIC": batch.debtor_bic.upper(),
            "batch": True,
            "currency": batch.currency,
        },
        clean=True,
    )
    for partner_id, partner_name, account, amount_cents in lines:
        transfer.add_payment(
            {
                "name": sepa_text(partner_name or "") or sepa_text(partner_id),
                "IBAN": account.replace(" ", "").upper(),
                "amount": int(amount_cents),
                "execution_date": batch.as_of,
                "description": sepa_text(f"Partner payout {batch.batch_id}")[:140],
                "endtoend_id": sepa_text(f"{batch.batch_id}-{partner_id}")[:35],
            }
        )
    exported = transfer.export(validate=False)  # the stamped file is validated below
    ET.register_namespace("", PAIN_NS)
    root = ET.fromstring(exported)
    stamp = datetime.combine(batch.as_of, datetime.min.time()).strftime("%Y-%m-%dT%H:%M:%S")
    for element in root.iter(f"{{{PAIN_NS}}}CreDtTm"):
        element.text = stamp
    for element in root.iter(f"{{{PAIN_NS}}}MsgId"):
        element.text = batch.batch_id[:35]
    for index, element in enumerate(root.iter(f"{{{PAIN_NS}}}PmtInfId"), start=1):
        element.text = f"{batch.batch_id}-{index}"[:35]
    content = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    validate_pain001(content)  # raises, naming the element, when invalid
    return content


def _write_file(folder: Path, name: str, content: bytes) -> None:
    """Write a new file of a new folder, owner-only from its creation (one system call less
    than a chmod after: a night at M writes 5,400 statements); it reaches the disk with its
    folder (_sync_folder)."""
    with open(folder / name, "xb", opener=_owner_only) as handle:
        handle.write(content)


def _owner_only(path: str, flags: int) -> int:
    """open()'s opener: the file is created with mode 0600 (`x`: it must not exist)."""
    return os.open(path, flags, 0o600)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@functools.cache
def _syncfs():
    """Linux's syncfs(2), or None where the C library has none."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.syncfs
    except (OSError, AttributeError):
        return None


def _sync_folder(folder: Path, names: Iterable[str]) -> None:
    """Make a folder's files and its entries durable before the warehouse commits the batch.

    A large batch has thousands of statements, and one fsync per file costs a journal commit
    each (5,355 files: 4.7 s here): on Linux one syncfs of the folder's file system writes them
    all at once; elsewhere each file is fsynced. The folder itself is fsynced either way.
    """
    fd = os.open(folder, os.O_RDONLY)
    try:
        syncfs = _syncfs()
        synced = syncfs is not None and syncfs(fd) == 0
    finally:
        os.close(fd)
    if not synced:
        for name in names:
            file_fd = os.open(folder / name, os.O_RDONLY)
            try:
                os.fsync(file_fd)
            finally:
                os.close(file_fd)
    _fsync_dir(folder)


def render_batch(con: duckdb.DuckDBPyConnection, batch: Batch) -> dict[str, bytes]:
    """Every file of a batch folder, as bytes, from the warehouse."""
    payouts = con.execute(
        f"select {', '.join(PAYOUT_COLUMNS)} from exp_payouts where batch_id = ? order by partner_id",
        [batch.batch_id],
    ).fetchall()
    statements = con.execute(
        f"select {', '.join(STATEMENT_COLUMNS)} from exp_statements where batch_id = ? "
        "order by partner_id",
        [batch.batch_id],
    ).fetchall()
    files: dict[str, bytes] = {
        "payouts.csv": _csv_bytes(PAYOUT_COLUMNS, payouts),
        "payouts.parquet": _parquet_bytes(PAYOUT_COLUMNS, payouts),
        "statements.csv": _csv_bytes(STATEMENT_COLUMNS, statements),
    }
    if batch.currency == "EUR":
        sepa_lines = [(row[1], row[2], row[5], row[7]) for row in payouts if row[4] == "sepa"]
        if sepa_lines:
            files["sepa.xml"] = _sepa_xml(batch, sepa_lines)
    files.update(statement_files(con, batch.batch_id))
    files.update(
        rail_files(batch.batch_id, [dict(zip(PAYOUT_COLUMNS, row, strict=True)) for row in payouts])
    )
    manifest = {
        "batch_id": batch.batch_id,
        "program_id": batch.program_id,
        "period": batch.period,
        "as_of": batch.as_of.isoformat(),
        "row_count": batch.row_count,
        "total_cents": batch.total_cents,
        "currency": batch.currency,
        "files": {
            name: hashlib.sha256(content).hexdigest() for name, content in sorted(files.items())
        },
    }
    files["manifest.json"] = (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode()
    return files


def closed_batches(con: duckdb.DuckDBPyConnection) -> list[Batch]:
    rows = con.execute(
        "select batch_id, program_id, period, as_of, currency, row_count, total_cents, "
        "debtor_name, debtor_iban, debtor_bic from fct_payout_batches order by program_id, period"
    ).fetchall()
    return [Batch(*row) for row in rows]


@dataclass(frozen=True)
class StagedBatch:
    """A batch folder written and fsynced aside (``staged``), waiting to be renamed to ``final``.
    A batch held for review (``held``) goes to its review folder and is not published."""

    batch: Batch
    staged: Path
    final: Path
    files: tuple[str, ...]
    held: bool = False


def stage_batch(
    con: duckdb.DuckDBPyConnection,
    batch: Batch,
    out: Path,
    *,
    folder: Path | None = None,
    extra: dict[str, bytes] | None = None,
    held: bool = False,
    writers: list[_Writer] | None = None,
) -> StagedBatch | None:
    """Render one batch's files and write them into its hidden temporary folder; None when the
    batch folder already exists (never rewritten). Raises PublishError when the files cannot be
    produced (rendering, the SEPA schema, the file system), leaving no temporary folder.
    `folder` (default: the payment folder) and `extra` files outside the manifest serve a batch
    held for review (partner_ledger.publish.review).

    Given `writers`, the files are written by a child process (_fork_writer) while the caller
    goes on, and the batch's writer is added to the list: its folder is staged once
    _finish_writers has waited for it, and may still fail there."""
    final = folder or batch_folder(out, batch.program_id, batch.period)
    if final.exists():
        return None
    temporary = final.parent / f"{STAGE_PREFIX}{final.name}"
    try:
        parent = final.parent
        parent.mkdir(parents=True, exist_ok=True)
        chain = [out, out / "payouts"]
        for part in parent.relative_to(out / "payouts").parts:
            chain.append(chain[-1] / part)
        for path in chain:
            os.chmod(path, 0o700)
        if temporary.exists():
            shutil.rmtree(temporary)
        temporary.mkdir(mode=0o700)
        files = render_batch(con, batch) | (extra or {})
        item = StagedBatch(batch, temporary, final, tuple(sorted(files)), held)
        if writers is not None:
            writers.append(_fork_writer(item, files))
        else:
            _write_folder(temporary, files)
    except Exception as exc:
        shutil.rmtree(temporary, ignore_errors=True)
        raise _publish_error(batch, _reason(exc)) from exc
    return item


def _reason(exc: BaseException) -> str:
    """An exception as a PublishError names it: its type and the first line of its message."""
    detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {detail or 'no detail'}"


def _publish_error(batch: Batch, reason: str) -> PublishError:
    return PublishError(f"the files of batch {batch.batch_id} cannot be produced: {reason}")


def _write_folder(folder: Path, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        _write_file(folder, name, content)
    _sync_folder(folder, files)


@dataclass(frozen=True)
class _Writer:
    """A staged folder being written by a child process (_fork_writer). `pipe`: the read end on
    which the child writes its reason, if it fails."""

    item: StagedBatch
    pid: int
    pipe: int


def _fork_writer(item: StagedBatch, files: dict[str, bytes]) -> _Writer:
    """Write a rendered batch's folder in a forked child while this process renders the next
    batch. Creating a file is the kernel's work: a closing night at L writes 26,500 statements
    into two folders, and the file system takes 2.5-4 s for each folder's 13,000 files; two
    processes create them side by side (docs/decisions/0012, session 36). The child inherits
    the rendered files (no copy, no pickling) and touches neither DuckDB nor any lock this
    process's threads may hold: it only writes files through system calls and exits, reporting
    a failure on a pipe. The C functions it calls (syncfs, prctl) are looked up here, before the
    fork."""
    _syncfs()
    _prctl()
    read_end, write_end = os.pipe()
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the child: never returns to the caller
        status = 0
        try:
            os.close(read_end)
            _die_with_parent()
            if os.getppid() != parent:  # the run died before the signal was asked for
                raise ProcessLookupError("the run ended before its writer started")
            _write_folder(item.staged, files)
        except BaseException as exc:  # noqa: BLE001 - reported on the pipe, whatever it is
            status = 1
            try:
                os.write(write_end, _reason(exc).encode("utf-8", "replace"))
            except OSError:
                pass
        finally:
            os._exit(status)
    os.close(write_end)
    return _Writer(item, pid, read_end)


def _finish_writers(writers: list[_Writer]) -> PublishError | None:
    """Wait for every forked writer; the error of the first one that failed (batch order)."""
    failure: PublishError | None = None
    for writer in writers:
        with os.fdopen(writer.pipe, "rb") as pipe:
            reason = pipe.read().decode("utf-8", "replace")
        _, status = os.waitpid(writer.pid, 0)
        code = os.waitstatus_to_exitcode(status)
        if code != 0 and failure is None:
            failure = _publish_error(
                writer.item.batch, reason or f"the writing process ended with status {code}"
            )
    return failure


def _stage_closed(
    con: duckdb.DuckDBPyConnection,
    batch: Batch,
    out: Path,
    held: dict,
    writers: list[_Writer] | None = None,
) -> StagedBatch | None:
    """Stage a closed batch: to its payment folder, or to its review folder with a note of what
    tripped when it is held for review (partner_ledger.publish.review)."""
    if batch.batch_id not in held:
        return stage_batch(con, batch, out, writers=writers)
    return stage_batch(
        con,
        batch,
        out,
        folder=review_folder(out, batch.program_id, batch.period),
        extra={"review.json": review_note(batch.batch_id, held[batch.batch_id])},
        held=True,
        writers=writers,
    )


def discard_staged(staged: list[StagedBatch]) -> None:
    for item in staged:
        shutil.rmtree(item.staged, ignore_errors=True)


# From this many batches to stage, worker processes render them side by side (a first run or a
# rebuild stages a year of batches: 22 at M took 38 s in one process). A night closes one batch
# per program and renders in this process: starting a worker (an interpreter, and the working
# copy opened again, its night's log replayed) cost more than it saved there; the folders of its
# batches but the last are written by forked children (_stage_in_turn).
PARALLEL_FROM = 4

_worker_con: duckdb.DuckDBPyConnection | None = None


def _open_worker(warehouse: str) -> None:
    global _worker_con
    from partner_ledger.io.warehouse import connect

    _die_with_parent()
    _worker_con = connect(Path(warehouse), read_only=True)


def _die_with_parent() -> None:
    """A worker or a forked writer dies with the run (Linux: PR_SET_PDEATHSIG): were the run
    killed alone, one left behind could still write into a temporary folder that the next run
    stages again."""
    prctl = _prctl()
    if prctl is not None:  # not Linux: the worker ends after its batch
        prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG = 1, SIGKILL = 9


@functools.cache
def _prctl():
    """Linux's prctl(2), or None where the C library has none."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl
    except (OSError, AttributeError):
        return None


def _stage_in_worker(batch: Batch, out: Path, held: dict) -> StagedBatch | None:
    assert _worker_con is not None, "the worker's warehouse is opened by its initializer"
    return _stage_closed(_worker_con, batch, out, held)


def stage_missing(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    *,
    warehouse: Path | None = None,
    before_workers: Callable[[], None] | None = None,
) -> list[StagedBatch]:
    """Stage every closed batch whose folder is missing, oldest first (a batch held for review
    to its review folder); when one cannot be produced, discard those already staged and raise
    its PublishError (the first in batch order).

    Given the ``warehouse`` file behind ``con`` and at least PARALLEL_FROM batches to stage,
    one worker process per core renders them, each with its own read-only connection; the
    folders are the same as one process writes. Fewer batches are rendered here, one after the
    other, each but the last written by a forked child while the next renders (where the system
    forks). ``before_workers`` is called before the workers start, and only then (the run
    closes its working copy there: a process holding it open for writing locks it)."""
    held = held_batches(con)
    batches = [
        batch
        for batch in closed_batches(con)
        if not (
            review_folder(out, batch.program_id, batch.period)
            if batch.batch_id in held
            else batch_folder(out, batch.program_id, batch.period)
        ).exists()
    ]
    workers = min(os.cpu_count() or 1, len(batches))
    if warehouse is None or len(batches) < PARALLEL_FROM or workers < 2:
        return _stage_in_turn(con, batches, out, held, fork=workers >= 2 and hasattr(os, "fork"))
    if before_workers is not None:
        before_workers()
    return _stage_side_by_side(batches, out, held, warehouse, workers)


def _stage_in_turn(
    con: duckdb.DuckDBPyConnection, batches: list[Batch], out: Path, held: dict, *, fork: bool
) -> list[StagedBatch]:
    """Stage the batches one after the other in this process. With `fork`, the folder of every
    batch but the last is written by a forked child while the next one renders (a closing
    night's batches, one per program); the last is written here. Nothing is discarded before
    every writer has ended, and the error reported is the first batch's."""
    staged: list[StagedBatch] = []
    writers: list[_Writer] = []
    failure: PublishError | None = None
    try:
        for index, batch in enumerate(batches):
            aside = writers if fork and index < len(batches) - 1 else None
            item = _stage_closed(con, batch, out, held, aside)
            if item is not None:
                staged.append(item)
    except PublishError as exc:
        failure = exc
    finally:
        written = _finish_writers(writers)
    failure = written or failure  # a writer's batch comes before any batch rendered after it
    if failure is not None:
        discard_staged(staged)
        raise failure
    return staged


def _stage_side_by_side(
    batches: list[Batch], out: Path, held: dict, warehouse: Path, workers: int
) -> list[StagedBatch]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    staged: list[StagedBatch] = []
    failure: BaseException | None = None
    # spawn, not fork: the parent holds DuckDB's threads, which a forked child would not have
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_open_worker,
        initargs=(str(warehouse),),
    ) as pool:
        futures = [pool.submit(_stage_in_worker, batch, out, held) for batch in batches]
        for future in futures:  # batch order: the first failure is the one reported
            try:
                item = future.result()
            except BaseException as exc:  # noqa: BLE001 - every staged folder must be discarded
                failure = failure or exc
                continue
            if item is not None:
                staged.append(item)
    if failure is not None:
        discard_staged(staged)
        raise failure
    return staged


def place_staged(staged: list[StagedBatch]) -> list[PublishedBatch]:
    """Rename each staged folder to its final place (atomic), oldest first, and return the
    batches published (not those held for review). A folder that is already there (published
    meanwhile) is kept and the staged copy discarded."""
    published = []
    for item in staged:
        if item.final.exists():
            shutil.rmtree(item.staged, ignore_errors=True)
            continue
        os.rename(item.staged, item.final)
        _fsync_dir(item.final.parent)
        if item.held:
            continue
        published.append(
            PublishedBatch(
                item.batch.batch_id,
                item.final,
                item.batch.row_count,
                item.batch.total_cents,
                item.files,
            )
        )
    return published


def publish_batch(
    con: duckdb.DuckDBPyConnection,
    batch: Batch,
    out: Path,
    *,
    folder: Path | None = None,
    extra: dict[str, bytes] | None = None,
) -> PublishedBatch | None:
    """Write one batch folder atomically; None when it already exists (never rewritten)."""
    staged = stage_batch(con, batch, out, folder=folder, extra=extra)
    if staged is None:
        return None
    placed = place_staged([staged])
    return placed[0] if placed else None


def publish_missing(con: duckdb.DuckDBPyConnection, out: Path) -> list[PublishedBatch]:
    """Publish every closed batch whose folder is missing, oldest first; a batch held for
    review goes to its review folder instead (partner_ledger.publish.review)."""
    return place_staged(stage_missing(con, out))
