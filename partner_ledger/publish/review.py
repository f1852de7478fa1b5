"""Review before payment (issue 14): a batch that looks unlike its history waits for a person.

A program with thresholds in the rules folder's optional ``review_rules.csv`` has each batch
its run closes compared with history: the batch total and each partner's payout line against
the median of the trailing months, the share of records quarantined that night, and the
clawbacks the close settles against its commissions. Each comparison is one row ``observed`` ≤
``limit`` (integers; the limit is the threshold times its base, rounded down, which is exact for
integer observations); Great Expectations checks the rows (partner_ledger.settle.checks) and names those that
trip. A batch with a row that trips is recorded ``held_for_review`` in ``ops.batch_reviews`` with
the run that closed it: it stays closed in the ledger, its files are written to
``<out>/payouts/<program>/review/<period>/`` and not to the payment folder, until ``approve``
publishes it and records who approved it and when. A program without thresholds is not
reviewed: nothing here runs for it and nothing is written. See
docs/decisions/0024-review-before-payment.md.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import duckdb

HELD = "held_for_review"
APPROVED = "approved"
REVIEW_NOTE = "review.json"  # beside a held batch's files: what tripped, how to approve

BATCH_REVIEWS_DDL = """
create schema if not exists ops;
create table if not exists ops.batch_reviews (
    batch_id varchar primary key,
    program_id varchar not null,
    period varchar not null,
    status varchar not null,            -- held_for_review, then approved
    held_as_of date not null,           -- the as-of of the run that closed and held the batch
    findings varchar not null,          -- JSON: the comparisons that tripped
    approved_by varchar,                -- the name given to `approve --by`
    approved_at timestamp               -- UTC wall clock of the approval
)
"""

REVIEW_COLUMNS = ["batch_id", "check", "partner_id", "observed", "limit", "compared_with"]


class ApprovalRefused(RuntimeError):
    """`approve` cannot publish this batch; the message says why and what to do."""


@dataclass(frozen=True)
class Night:
    """What the run saw tonight: records newly in quarantine, and landing rows read."""

    quarantined: int
    rows_read: int


def night_counts(
    work: Path, quarantine_key_sql: str, known_keys: set[int], loaded: dict[str, int]
) -> Night | None:
    """Records in the run's quarantine that the committed warehouse did not hold there, and the
    rows the night's ingest read (loaded + rejected); None when no program has a
    quarantine_share threshold (nothing is counted then)."""
    from partner_ledger.io.warehouse import connect

    con = connect(work, read_only=True)
    try:
        if (
            not _table_exists(con, "rules", "review_rules")
            or not con.execute(
                """select count(*) from rules.review_rules where "check" = 'quarantine_share'"""
            ).fetchone()[0]
        ):
            return None
        keys = con.execute(f"select {quarantine_key_sql} from quarantine").fetchall()
    finally:
        con.close()
    quarantined = sum(key[0] not in known_keys for key in keys)
    return Night(quarantined, int(loaded["rows_loaded"]) + int(loaded["rows_rejected"]))


def _table_exists(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from duckdb_tables() where schema_name = ? and table_name = ?",
            [schema, table],
        ).fetchone()[0]
    )


def _median(values: list[int]) -> Fraction:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return Fraction(ordered[middle])
    return Fraction(ordered[middle - 1] + ordered[middle], 2)


def _limit(max_ratio: str, base: Fraction | int) -> int:
    """floor(max_ratio × base): for an integer observation, observed > ratio × base exactly when
    observed > this limit."""
    return math.floor(Fraction(Decimal(max_ratio)) * Fraction(base))


def _shift(period: str, months: int) -> str:
    year, month = int(period[:4]), int(period[5:7])
    index = year * 12 + month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _ratio_text(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{float(value):.1f}"


def review_rows(
    con: duckdb.DuckDBPyConnection, batch_ids: tuple[str, ...], night: Night | None
) -> list[dict]:
    """One comparison per batch, check (and partner, for partner lines) of the programs that
    have thresholds; none when no program has any. See the decision note for what each means."""
    if not batch_ids or not _table_exists(con, "rules", "review_rules"):
        return []
    thresholds: dict[str, dict[str, tuple[str, int | None]]] = {}
    for program_id, check, max_ratio, trailing in con.execute(
        'select program_id, "check", max_ratio, trailing_months from rules.review_rules'
    ).fetchall():
        thresholds.setdefault(program_id, {})[check] = (max_ratio, trailing)
    rows: list[dict] = []
    batches = con.execute(
        "select batch_id, program_id, period, total_cents from fct_payout_batches "
        "where list_contains(?, batch_id) order by batch_id",
        [list(batch_ids)],
    ).fetchall()
    for batch_id, program_id, period, total_cents in batches:
        checks = thresholds.get(program_id)
        if not checks:
            continue

        def add(
            check: str,
            observed: int,
            limit: int,
            compared_with: str,
            partner: str | None = None,
            batch_id: str = batch_id,
        ) -> None:
            rows.append(
                {
                    "batch_id": batch_id,
                    "check": check,
                    "partner_id": partner,
                    "observed": int(observed),
                    "limit": int(limit),
                    "compared_with": compared_with,
                }
            )

        if "batch_total" in checks:
            max_ratio, months = checks["batch_total"]
            first = _shift(period, -int(months))
            history = [
                int(row[0])
                for row in con.execute(
                    "select total_cents from fct_payout_batches "
                    "where program_id = ? and period >= ? and period < ?",
                    [program_id, first, period],
                ).fetchall()
            ]
            median = _median(history) if history else Fraction(0)
            if median > 0:  # no history, or nothing paid lately: not compared
                add(
                    "batch_total",
                    total_cents,
                    _limit(max_ratio, median),
                    f"{max_ratio} × median {_ratio_text(median)} of {len(history)} batch(es) "
                    f"{first}..{_shift(period, -1)}",
                )
        if "partner_line" in checks:
            max_ratio, months = checks["partner_line"]
            first = _shift(period, -int(months))
            history_by_partner: dict[str, list[int]] = {}
            for partner_id, cents in con.execute(
                "select lines.partner_id, lines.amount_cents from exp_payouts as lines "
                "join fct_payout_batches as batches on lines.batch_id = batches.batch_id "
                "where batches.program_id = ? and batches.period >= ? and batches.period < ?",
                [program_id, first, period],
            ).fetchall():
                history_by_partner.setdefault(partner_id, []).append(int(cents))
            for partner_id, cents in con.execute(
                "select partner_id, amount_cents from exp_payouts where batch_id = ? "
                "order by partner_id",
                [batch_id],
            ).fetchall():
                history = history_by_partner.get(partner_id)
                if not history:  # first payout in the window: nothing to compare with
                    continue
                median = _median(history)
                add(
                    "partner_line",
                    cents,
                    _limit(max_ratio, median),
                    f"{max_ratio} × median {_ratio_text(median)} of {len(history)} paid line(s) "
                    f"{first}..{_shift(period, -1)}",
                    partner_id,
                )
        if "quarantine_share" in checks and night is not None:
            max_ratio, _ = checks["quarantine_share"]
            add(
                "quarantine_share",
                night.quarantined,
                _limit(max_ratio, night.rows_read),
                f"{max_ratio} × {night.rows_read} row(s) read tonight",
            )
        if "clawback_rate" in checks:
            max_ratio, _ = checks["clawback_rate"]
            clawbacks, commissions = con.execute(
                "select -coalesce(sum(clawback_cents), 0), "
                "coalesce(sum(commission_cents + referral_commission_cents), 0) "
                "from exp_statements where batch_id = ?",
                [batch_id],
            ).fetchone()
            add(
                "clawback_rate",
                clawbacks,
                _limit(max_ratio, int(commissions)),
                f"{max_ratio} × {int(commissions)} commission cents settled",
            )
    return rows


def record_holds(
    con: duckdb.DuckDBPyConnection, held: dict[str, list[dict]], as_of: str
) -> list[str]:
    """Record each held batch as held_for_review (in the run's working copy, so the hold is
    committed with the batch). Nothing is written when nothing is held."""
    if not held:
        return []
    con.execute(BATCH_REVIEWS_DDL)
    for batch_id, findings in sorted(held.items()):
        program_id, period = con.execute(
            "select program_id, period from fct_payout_batches where batch_id = ?", [batch_id]
        ).fetchone()
        con.execute(
            "insert or replace into ops.batch_reviews values (?, ?, ?, ?, ?, ?, null, null)",
            [batch_id, program_id, period, HELD, as_of, json.dumps(findings, sort_keys=True)],
        )
    return sorted(held)


def held_batches(con: duckdb.DuckDBPyConnection) -> dict[str, list[dict]]:
    """The batches waiting for approval, with what tripped."""
    if not _table_exists(con, "ops", "batch_reviews"):
        return {}
    return {
        batch_id: json.loads(findings)
        for batch_id, findings in con.execute(
            "select batch_id, findings from ops.batch_reviews where status = ?", [HELD]
        ).fetchall()
    }


def review_folder(out: Path, program_id: str, period: str) -> Path:
    """Where a held batch's files wait: beside the period folders, never one of them."""
    return out / "payouts" / program_id / "review" / period


def review_note(batch_id: str, findings: list[dict]) -> bytes:
    note = {
        "batch_id": batch_id,
        "status": HELD,
        "findings": findings,
        "approve_with": f"partner-ledger approve {batch_id} --by NAME",
    }
    return (json.dumps(note, indent=2, sort_keys=False) + "\n").encode()


_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,200}")


def approve(warehouse: Path, out: Path, batch_id: str, by: str) -> Path:
    """Publish a held batch into its payment folder and record who approved it and when.

    The files published are rendered again from the warehouse and must match the reviewed
    ones (the manifest, which holds every file's sha256, byte for byte); then the review
    folder is removed. Returns the payment folder."""
    from partner_ledger.io.warehouse import connect
    from partner_ledger.ops.lock import writer_lock
    from partner_ledger.publish.payout_files import (
        batch_folder,
        closed_batches,
        publish_batch,
        render_batch,
    )

    by = by.strip()
    if not _NAME.fullmatch(by):
        raise ApprovalRefused("--by: expected the approver's name (1 to 200 printable characters)")
    if not Path(warehouse).exists():
        raise ApprovalRefused(f"the warehouse {Path(warehouse).resolve()} does not exist")
    with writer_lock(warehouse):
        con = connect(warehouse)
        try:
            status = None
            if _table_exists(con, "ops", "batch_reviews"):
                found = con.execute(
                    "select status, approved_at from ops.batch_reviews where batch_id = ?",
                    [batch_id],
                ).fetchone()
                status = found
            if status is None:
                raise ApprovalRefused(
                    f"batch {batch_id} is not held for review; nothing to approve"
                )
            if status[0] == APPROVED:
                raise ApprovalRefused(f"batch {batch_id} was already approved at {status[1]} UTC")
            batch = next(b for b in closed_batches(con) if b.batch_id == batch_id)
            waiting = review_folder(out, batch.program_id, batch.period)
            reviewed = waiting / "manifest.json"
            final = batch_folder(out, batch.program_id, batch.period)
            if not final.exists():
                if not reviewed.is_file():
                    raise ApprovalRefused(
                        f"{waiting} has no manifest.json: the reviewed files are missing; "
                        "run the nightly run again to write them"
                    )
                if render_batch(con, batch)["manifest.json"] != reviewed.read_bytes():
                    raise ApprovalRefused(
                        f"the files of {batch_id} rendered now differ from those in {waiting}; "
                        "nothing published"
                    )
                publish_batch(con, batch, out)
            con.execute(
                "update ops.batch_reviews set status = ?, approved_by = ?, approved_at = ? "
                "where batch_id = ?",
                [APPROVED, by, datetime.now(UTC).replace(tzinfo=None), batch_id],
            )
            con.execute("checkpoint")
        finally:
            con.close()
        if waiting.exists():
            shutil.rmtree(waiting)
        if waiting.parent.exists() and not any(waiting.parent.iterdir()):
            waiting.parent.rmdir()
    return final
