"""Payout files per closed period (SPEC §3.2): written aside, fsynced, renamed into place.

A batch folder is complete or absent: files are written into a hidden sibling folder, each file
and the folder are fsynced, and the folder is renamed to ``<out>/payouts/<program>/<YYYY-MM>``.
A folder that exists is never rewritten (a closed period is immutable); a run killed mid-publish
leaves only a hidden temporary folder, which the next run discards and redoes. Everything is
derived from the committed warehouse, deterministically, so a redone publish is byte-identical.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from flows.rails import rail_files
from flows.review import held_batches, review_folder, review_note
from flows.statements_html import statement_files

PAYOUT_COLUMNS = [
    "batch_id",
    "partner_id",
    "partner_name",
    "partner_email",
    "payout_method",
    "payout_account",
    "amount",
    "amount_cents",
    "currency",
]
STATEMENT_COLUMNS = [
    "partner_id",
    "opening_balance_cents",
    "commission_cents",
    "referral_commission_cents",
    "clawback_cents",
    "adjustment_cents",
    "payout_cents",
    "closing_balance_cents",
    "held_cents",
    "carried_reason",
]
PAIN_NS = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"


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
        writer.writerow(["" if value is None else value for value in row])
    return buffer.getvalue().encode("utf-8")


def _parquet_bytes(columns: list[str], rows: list[tuple]) -> bytes:
    schema = pa.schema(
        [(name, pa.int64() if name == "amount_cents" else pa.string()) for name in columns]
    )
    table = pa.Table.from_pylist([dict(zip(columns, row, strict=True)) for row in rows], schema)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return sink.getvalue().to_pybytes()


def _sepa_xml(batch: Batch, lines: list[tuple]) -> bytes:
    """pain.001.001.03 for the batch's sepa lines, validated against the schema by sepaxml.

    sepaxml stamps the wall clock and random ids; they are replaced by the batch id and the
    close's as-of so that the file depends on the batch alone.
    """
    from sepaxml import SepaTransfer

    transfer = SepaTransfer(
        {
            "name": batch.debtor_name,
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
                "name": partner_name or partner_id,
                "IBAN": account.replace(" ", "").upper(),
                "amount": int(amount_cents),
                "execution_date": batch.as_of,
                "description": f"Partner payout {batch.batch_id}"[:140],
                "endtoend_id": f"{batch.batch_id}-{partner_id}"[:35],
            }
        )
    exported = transfer.export(validate=True)
    ET.register_namespace("", PAIN_NS)
    root = ET.fromstring(exported)
    stamp = datetime.combine(batch.as_of, datetime.min.time()).strftime("%Y-%m-%dT%H:%M:%S")
    for element in root.iter(f"{{{PAIN_NS}}}CreDtTm"):
        element.text = stamp
    for element in root.iter(f"{{{PAIN_NS}}}MsgId"):
        element.text = batch.batch_id[:35]
    for index, element in enumerate(root.iter(f"{{{PAIN_NS}}}PmtInfId"), start=1):
        element.text = f"{batch.batch_id}-{index}"[:35]
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _write_file(folder: Path, name: str, content: bytes) -> None:
    path = folder / name
    with open(path, "wb") as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, 0o600)


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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


def publish_batch(
    con: duckdb.DuckDBPyConnection,
    batch: Batch,
    out: Path,
    *,
    folder: Path | None = None,
    extra: dict[str, bytes] | None = None,
) -> PublishedBatch | None:
    """Write one batch folder atomically; None when it already exists (never rewritten).
    `folder` (default: the payment folder) and `extra` files outside the manifest serve a batch
    held for review (flows.review)."""
    final = folder or batch_folder(out, batch.program_id, batch.period)
    if final.exists():
        return None
    parent = final.parent
    parent.mkdir(parents=True, exist_ok=True)
    chain = [out, out / "payouts"]
    for part in parent.relative_to(out / "payouts").parts:
        chain.append(chain[-1] / part)
    for path in chain:
        os.chmod(path, 0o700)
    temporary = parent / f".tmp-{final.name}"
    if temporary.exists():
        shutil.rmtree(temporary)
    temporary.mkdir(mode=0o700)
    files = render_batch(con, batch) | (extra or {})
    for name, content in files.items():
        _write_file(temporary, name, content)
    _fsync_dir(temporary)
    os.rename(temporary, final)
    _fsync_dir(parent)
    return PublishedBatch(
        batch.batch_id, final, batch.row_count, batch.total_cents, tuple(sorted(files))
    )


def publish_missing(con: duckdb.DuckDBPyConnection, out: Path) -> list[PublishedBatch]:
    """Publish every closed batch whose folder is missing, oldest first; a batch held for
    review goes to its review folder instead (flows.review)."""
    published = []
    held = held_batches(con)
    for batch in closed_batches(con):
        if batch.batch_id in held:
            folder = review_folder(out, batch.program_id, batch.period)
            note = {"review.json": review_note(batch.batch_id, held[batch.batch_id])}
            publish_batch(con, batch, out, folder=folder, extra=note)  # held: not published
            continue
        result = publish_batch(con, batch, out)
        if result is not None:
            published.append(result)
    return published
