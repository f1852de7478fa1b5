"""What a night's run records: its summary (counts, seconds per stage), the warehouse's state
before it, the run record file and the Markdown of its batches; where its working copy lives
and which Stripe key it uses."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from partner_ledger.config import RunConfig, run_record_path
from partner_ledger.io.warehouse import WORKING_FOLDER, connect
from partner_ledger.publish.review import held_batches


@dataclass
class RunSummary:
    as_of: str
    files_loaded: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    stripe_api_objects: int = 0
    models_built: int = 0
    quarantined: int = 0
    quarantined_tonight: int = 0
    ledger_entries_appended: int = 0
    batches_closed: list[str] = field(default_factory=list)
    batches_published: list[str] = field(default_factory=list)
    batches_held: list[str] = field(
        default_factory=list
    )  # waiting for `approve` (partner_ledger.publish.review)
    partners_paid: int = 0
    paid_cents_by_currency: dict[str, int] = field(default_factory=dict)
    carried_cents_by_reason: dict[str, int] = field(default_factory=dict)
    data_docs: str | None = None
    seconds_by_stage: dict[str, float] = field(default_factory=dict)
    slowest_dbt_nodes: dict[str, float] = field(default_factory=dict)  # the ten slowest


def working_copy_path(warehouse: Path) -> Path:
    """The run's working copy: a second name of the warehouse file, or a copy of it
    (docs/decisions/0027). It keeps the warehouse's file name (DuckDB names its catalog after it,
    and dbt's views refer to that catalog), in a hidden folder beside it."""
    return warehouse.parent / WORKING_FOLDER / warehouse.name


def stripe_api_key() -> str | None:
    """The Stripe key: STRIPE_API_KEY, else the Prefect Secret block named by
    PARTNER_LEDGER_STRIPE_SECRET_BLOCK; None means Stripe comes from landing files only.
    The key is never a flow or task parameter, so it never reaches Prefect's run records."""
    key = os.environ.get("STRIPE_API_KEY", "").strip()
    if key:
        return key
    block = os.environ.get("PARTNER_LEDGER_STRIPE_SECRET_BLOCK", "").strip()
    if not block:
        return None
    from prefect.blocks.system import Secret

    return str(Secret.load(block).get()).strip() or None


QUARANTINE_KEY = "hash(source_table, file_path, line_no, reason)"  # one quarantined record


def ledger_state(warehouse: Path) -> tuple[int, set[str], set[int]]:
    """How many ledger entries, which batches and which quarantined records a warehouse holds
    (none before the first run)."""
    if not warehouse.exists():
        return 0, set(), set()
    con = connect(warehouse, read_only=True)
    try:
        tables = {
            row[0] for row in con.execute("select table_name from duckdb_tables()").fetchall()
        }
        if not {"fct_ledger_entries", "fct_payout_batches"} <= tables:
            return 0, set(), set()
        entries = con.execute("select count(*) from fct_ledger_entries").fetchone()[0]
        batches = {
            row[0] for row in con.execute("select batch_id from fct_payout_batches").fetchall()
        }
        quarantined = {
            row[0] for row in con.execute(f"select {QUARANTINE_KEY} from quarantine").fetchall()
        }
    finally:
        con.close()
    return int(entries), batches, quarantined


def summarize(
    warehouse: Path, summary: RunSummary, before: tuple[int, set[str], set[int]]
) -> RunSummary:
    con = connect(warehouse, read_only=True)
    try:
        entries_before, batches_before, quarantined_before = before
        quarantined = [
            row[0] for row in con.execute(f"select {QUARANTINE_KEY} from quarantine").fetchall()
        ]
        summary.quarantined = len(quarantined)
        # tonight's: records in quarantine that the previous run did not hold there
        summary.quarantined_tonight = sum(key not in quarantined_before for key in quarantined)
        summary.ledger_entries_appended = (
            con.execute("select count(*) from fct_ledger_entries").fetchone()[0] - entries_before
        )
        summary.batches_closed = sorted(
            row[0]
            for row in con.execute("select batch_id from fct_payout_batches").fetchall()
            if row[0] not in batches_before
        )
        rows = con.execute(
            "select currency, count(*), sum(amount_cents) from fct_payout_lines "
            "where list_contains(?, batch_id) group by 1",
            [summary.batches_closed],
        ).fetchall()
        summary.partners_paid = sum(row[1] for row in rows)
        summary.paid_cents_by_currency = {row[0]: int(row[2]) for row in rows}
        carried = con.execute(
            "select carried_reason, sum(closing_balance_cents) from fct_payout_statements "
            "where list_contains(?, batch_id) and carried_reason is not null group by 1 order by 1",
            [summary.batches_closed],
        ).fetchall()
        summary.carried_cents_by_reason = {row[0]: int(row[1]) for row in carried}
        summary.batches_held = sorted(held_batches(con))
    finally:
        con.close()
    return summary


def write_run_record(config: RunConfig, summary: RunSummary) -> None:
    """The run's summary (counts, seconds per stage) as JSON, for operators and benchmarks; the
    same night run again overwrites it."""
    path = run_record_path(config.warehouse, config.as_of)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(summary), indent=2, sort_keys=True) + "\n")


def batch_report(config: RunConfig, summary: RunSummary) -> str:
    """Markdown for the run's batches: what was paid, what was carried and why, and links."""
    lines = [f"# Payout batches closed as of {summary.as_of}", ""]
    lines.append("| batch | folder |")
    lines.append("| --- | --- |")
    for batch_id in summary.batches_closed:
        program_id, period = batch_id[: -len("-YYYY-MM")], batch_id[-len("YYYY-MM") :]
        folder = (config.out / "payouts" / program_id / period).resolve()
        lines.append(f"| {batch_id} | [{folder}]({folder.as_uri()}) |")
    lines.append("")
    lines.append(f"Partners paid: {summary.partners_paid}")
    for currency, cents in sorted(summary.paid_cents_by_currency.items()):
        lines.append(f"- paid {currency}: {cents} cents")
    for reason, cents in sorted(summary.carried_cents_by_reason.items()):
        lines.append(f"- carried `{reason}`: {cents} cents")
    if summary.data_docs:
        docs = Path(summary.data_docs).resolve()
        lines.append(f"\nData docs: [{docs}]({docs.as_uri()})")
    return "\n".join(lines)
