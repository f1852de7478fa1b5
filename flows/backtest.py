"""`partner-ledger backtest`: the same history under candidate rules, beside the baseline.

Both sides are replayed night by night, with the same nightly flow, into scratch warehouses and
scratch payout folders under the report folder; the landing directory is only read, and the
given warehouse and payout folder are never opened for writing. The difference is reported by
month, partner and tier (commission cost: commissions, referral commissions and their
clawbacks), with the partners whose tier changes and the payout totals per batch, as tables in a
report DuckDB file and as CSV and Parquet files.

The nights replayed are exactly --from, the cadence's nights between, and --to; the report covers
that window: entries earned from --from (inclusive) to --to (exclusive), and the tier months and
payout periods that overlap it. The first night sees all history before it (as-of), so the
window's entries carry their true tiers and phases.
"""

from __future__ import annotations

import shutil
import time
from datetime import date
from pathlib import Path

from prefect import flow

from flows.nightly import nightly_settlement
from partner_ledger.config import DEFAULTS
from partner_ledger.rules.validate import validate_rules
from partner_ledger.settle.backtest import backtest_nights, write_report


def progress(line: str) -> None:
    """One line of progress: on the console, and in the flow run's log."""
    print(line, flush=True)
    try:
        from prefect import get_run_logger

        get_run_logger().info(line)
    except Exception:  # outside a flow run
        pass


@flow(name="backtest")
def backtest_flow(
    candidate_rules: Path,
    date_from: date,
    date_to: date,
    landing: Path,
    warehouse: Path,
    out: Path,
    report: Path,
    baseline_rules: Path | None = None,
    nights: str = "monthly",
) -> dict:
    """Replay [date_from, date_to] under the baseline and the candidate rules; report the diff."""
    validate_rules(candidate_rules)
    baseline_rules = baseline_rules or DEFAULTS["rules"]
    validate_rules(baseline_rules)
    if date_to < date_from:
        raise ValueError(f"--to {date_to} is before --from {date_from}")
    scratch = report / "scratch"
    protected = {warehouse.resolve(), out.resolve()}
    if any(path == scratch.resolve() or path in scratch.resolve().parents for path in protected):
        raise ValueError(
            "the backtest report folder must not be inside the real warehouse or output"
        )
    if scratch.exists():
        shutil.rmtree(scratch)
    dates = backtest_nights(date_from, date_to, nights)
    sides = {"baseline": baseline_rules, "candidate": candidate_rules}
    started = time.monotonic()
    for side, rules in sides.items():
        for number, night in enumerate(dates, start=1):
            night_started = time.monotonic()
            nightly_settlement(
                as_of=night,
                landing=landing,
                rules=rules,
                warehouse=scratch / side / "warehouse" / "partner_ledger.duckdb",
                out=scratch / side / "out",
                scenario=f"backtest-{side}",
            )
            progress(
                f"backtest {side}: night {number} of {len(dates)} (as of {night}) in "
                f"{time.monotonic() - night_started:.0f} s; elapsed {time.monotonic() - started:.0f} s"
            )
    headline = write_report(
        scratch / "baseline" / "warehouse" / "partner_ledger.duckdb",
        scratch / "candidate" / "warehouse" / "partner_ledger.duckdb",
        report,
        date_from,
        date_to,
    )
    return {"headline": headline, "nights": [night.isoformat() for night in dates]}
