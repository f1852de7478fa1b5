"""A lost warehouse is rebuilt from the landing and the published batch folders (issue 16;
docs/decisions/0017).

The published folders are the record of what was paid: money that left cannot be recomputed
into another amount. A rebuild therefore
- reads every published batch folder (manifest.json, statements.csv, payouts.parquet), checking
  each file against its manifest's sha256;
- builds a new warehouse from the landing with every model empty (`dbt build --empty`), then
  writes the published closes into it as they were: the batches (with their as-of), their
  statements and payout lines, and what each close settled per partner and entry type
  (`raw.published_settlements`);
- runs the night of its as-of on it: the ledger is recomputed from everything the landing holds
  and recorded at that as-of; the payout entries of the published periods are those of the files;
  a difference (late data) settles at the next close, like any correction to a closed period.
Nothing published is re-closed or rewritten; periods due after the last published one close and
publish as on any night.
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from partner_ledger.io.warehouse import connect


class WarehouseUnavailable(RuntimeError):
    """The warehouse is missing while batches were published, or cannot be opened."""


@dataclass(frozen=True)
class PublishedFolder:
    folder: Path
    manifest: dict


def rebuild_command(warehouse: Path, out: Path) -> str:
    return (
        f"partner-ledger rebuild --as-of <the next night> --warehouse {warehouse} --out {out} "
        "(with the run's --landing and --rules)"
    )


def published_folders(out: Path) -> list[PublishedFolder]:
    """Every published batch folder under `<out>/payouts` (hidden staging folders aside)."""
    root = out / "payouts"
    found = []
    if not root.is_dir():
        return found
    for manifest_path in sorted(root.glob("*/*/manifest.json")):
        if manifest_path.parent.name.startswith("."):
            continue
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        found.append(PublishedFolder(manifest_path.parent, manifest))
    return sorted(found, key=lambda item: (item.manifest["program_id"], item.manifest["period"]))


def check_warehouse(warehouse: Path, out: Path) -> None:
    """Stop a run whose warehouse is lost: missing while payout batches were published (a fresh
    start would pay them again), or present but not a DuckDB database it can open."""
    if not warehouse.exists():
        published = published_folders(out)
        if published:
            raise WarehouseUnavailable(
                f"the warehouse {warehouse} does not exist, but {len(published)} payout "
                f"batch(es) were published under {out / 'payouts'} (the last: "
                f"{published[-1].manifest['batch_id']}); a new warehouse would pay them again. "
                f"Rebuild it from the landing and the published batches: "
                f"{rebuild_command(warehouse, out)}"
            )
        return
    try:
        con = duckdb.connect(str(warehouse), read_only=True)
        con.execute("select count(*) from duckdb_tables()").fetchone()
        con.close()
    except (duckdb.Error, OSError) as exc:
        detail = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise WarehouseUnavailable(
            f"the warehouse {warehouse} cannot be opened ({detail}). Move it aside and rebuild "
            f"it from the landing and the published batches: {rebuild_command(warehouse, out)}"
        ) from exc


def _verified(folder: Path, manifest: dict, name: str) -> bytes:
    content = (folder / name).read_bytes()
    if hashlib.sha256(content).hexdigest() != manifest["files"].get(name):
        raise WarehouseUnavailable(
            f"{folder / name} does not match its manifest's sha256; a published batch must be "
            "intact to rebuild from it"
        )
    return content


def _statement_rows(folder: Path, manifest: dict) -> list[dict[str, str]]:
    text = _verified(folder, manifest, "statements.csv").decode("utf-8")
    return list(csv.DictReader(text.splitlines()))


def _payout_rows(folder: Path, manifest: dict) -> dict[str, dict]:
    """Payout lines by partner, from Parquet: it keeps each value as delivered (the CSV
    neutralises formulas, docs/decisions/0016)."""
    _verified(folder, manifest, "payouts.parquet")
    return {row["partner_id"]: row for row in pq.read_table(folder / "payouts.parquet").to_pylist()}


TYPES = {  # statements.csv column -> entry type it settles
    "commission_cents": "commission",
    "referral_commission_cents": "referral_commission",
    "clawback_cents": "clawback",
    "adjustment_cents": "adjustment",
}


def seed_published(con: duckdb.DuckDBPyConnection, out: Path, rebuilt_as_of: date) -> list[str]:
    """Write the published closes into a warehouse whose models are built empty; returns the
    batch ids. The published batches must be those of programs the rules folder declares."""
    programs = {
        row[0]: row[1:]
        for row in con.execute(
            "select program_id, debtor_name, debtor_iban, debtor_bic from rules.programs"
        ).fetchall()
    }
    batch_ids = []
    for item in published_folders(out):
        manifest, folder = item.manifest, item.folder
        program_id, period = manifest["program_id"], manifest["period"]
        if program_id not in programs:
            raise WarehouseUnavailable(
                f"{folder}: program {program_id!r} is not in the rules folder; rebuild with the "
                "rules the batches were closed under"
            )
        if date.fromisoformat(manifest["as_of"]) >= rebuilt_as_of:
            raise WarehouseUnavailable(
                f"{folder} was closed as of {manifest['as_of']}, not before the rebuild's as-of "
                f"{rebuilt_as_of}; rebuild as of a later night"
            )
        period_start = f"{period}-01 00:00:00"
        con.execute(
            """
            insert into ledger.ledger_period_closes by name
            select ? as batch_id, ? as program_id, ? as period,
                cast(? as timestamp) as period_start,
                cast(? as timestamp) + interval 1 month as period_end,
                cast(? as date) as closed_as_of, ? as currency,
                ? as debtor_name, ? as debtor_iban, ? as debtor_bic
            """,
            [
                manifest["batch_id"],
                program_id,
                period,
                period_start,
                period_start,
                manifest["as_of"],
                manifest["currency"],
                *programs[program_id],
            ],
        )
        payouts = _payout_rows(folder, manifest)
        for row in _statement_rows(folder, manifest):
            partner_id = row["partner_id"]
            paid = payouts.get(partner_id, {})
            cents = {name: int(row[name]) for name in row if name.endswith("_cents")}
            con.execute(
                """
                insert into ledger.ledger_statements by name
                select ? as batch_id, ? as program_id, ? as period,
                    cast(? as timestamp) as period_start,
                    cast(? as timestamp) + interval 1 month as period_end,
                    cast(? as date) as closed_as_of, ? as partner_id, ? as partner_name,
                    ? as partner_email, ? as payout_method, ? as payout_account,
                    cast(null as varchar) as status_at_period_end, ? as currency,
                    ? as opening_balance_cents, ? as commission_cents,
                    ? as referral_commission_cents, ? as clawback_cents, ? as adjustment_cents,
                    ? as payable_cents, ? as payout_cents, ? as closing_balance_cents,
                    ? as held_cents, 1 as settled_entries, ? as carried_reason
                """,
                [
                    manifest["batch_id"],
                    program_id,
                    period,
                    period_start,
                    period_start,
                    manifest["as_of"],
                    partner_id,
                    paid.get("partner_name"),
                    paid.get("partner_email"),
                    paid.get("payout_method"),
                    paid.get("payout_account"),
                    manifest["currency"],
                    cents["opening_balance_cents"],
                    cents["commission_cents"],
                    cents["referral_commission_cents"],
                    cents["clawback_cents"],
                    cents["adjustment_cents"],
                    cents["closing_balance_cents"] + cents["payout_cents"],
                    cents["payout_cents"],
                    cents["closing_balance_cents"],
                    cents["held_cents"],
                    row["carried_reason"] or None,
                ],
            )
            for column, entry_type in TYPES.items():
                if cents[column]:
                    con.execute(
                        "insert into raw.published_settlements values (?, ?, ?, ?, ?, ?)",
                        [
                            program_id,
                            partner_id,
                            entry_type,
                            cents[column],
                            period_start,
                            rebuilt_as_of,
                        ],
                    )
        batch_ids.append(manifest["batch_id"])
    return batch_ids


def new_warehouse_file(work: Path) -> None:
    """The rebuild's working copy starts empty (no file)."""
    for stale in (work, work.with_name(work.name + ".wal")):
        stale.unlink(missing_ok=True)


def open_work(work: Path) -> duckdb.DuckDBPyConnection:
    return connect(work)
