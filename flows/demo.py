"""`partner-ledger demo`: a generated program, replayed night by night on the embedded defaults.

The demo folder's landing files, warehouse and payout files are rebuilt from scratch on every
call, so the summary always describes one deterministic year (Prefect's state, in
`<dir>/prefect` by default, is kept: the runs of earlier demos stay in its history).
"""

from __future__ import annotations

import shutil
import time
from datetime import date, timedelta
from pathlib import Path

from prefect import flow

from flows.nightly import nightly_settlement
from partner_ledger.config import DEFAULTS
from partner_ledger.demo import generate_demo_landing
from partner_ledger.io.warehouse import connect


def replay_nights(first_day: date, last_day: date, cadence: str) -> list[date]:
    """The as-of dates to replay so that every month from first_day to last_day is closed."""
    end = date(last_day.year + (last_day.month == 12), last_day.month % 12 + 1, 1)
    if cadence == "daily":
        step = 1
    elif cadence == "weekly":
        step = 7
    else:
        step = 0
    nights: list[date] = []
    if step:
        night = first_day + timedelta(days=step)
        while night < end:
            nights.append(night)
            night += timedelta(days=step)
    month = date(first_day.year, first_day.month, 1)
    while month < end:
        month = date(month.year + (month.month == 12), month.month % 12 + 1, 1)
        if cadence != "quarterly" or month.month % 3 == 1 or month >= end:
            nights.append(month)
        if cadence == "semimonthly" and month < end:
            nights.append(month.replace(day=16))
    return sorted({night for night in nights if night <= end})


def demo_summary(warehouse: Path, out: Path, elapsed: float, nights: int) -> str:
    con = connect(warehouse, read_only=True)
    try:
        programs = con.execute(
            "select program_id, currency from staging.stg_rules__programs order by 1"
        ).fetchall()
        paid = con.execute(
            "select currency, count(distinct partner_id), count(*), sum(amount_cents) "
            "from fct_payout_lines group by 1 order by 1"
        ).fetchall()
        batches = con.execute("select count(*) from fct_payout_batches").fetchone()[0]
        partners = con.execute("select count(*) from intermediate.int_partners_current").fetchone()[
            0
        ]
        quarantined = con.execute("select count(*) from quarantine").fetchone()[0]
        reasons = con.execute(
            "select reason, count(*) from quarantine group by 1 order by 2 desc limit 5"
        ).fetchall()
        entries = con.execute("select count(*) from fct_ledger_entries").fetchone()[0]
    finally:
        con.close()
    lines = [
        f"partner-ledger demo: {nights} nightly runs in {elapsed:.0f} s",
        "programs: " + ", ".join(f"{pid} ({cur})" for pid, cur in programs),
        f"partners known: {partners}; ledger entries: {entries}; payout batches: {batches}",
    ]
    for currency, partners_paid, lines_count, total in paid:
        lines.append(
            f"paid in {currency}: {partners_paid} partners, {lines_count} payout lines, "
            f"{total / 100:,.2f} {currency}"
        )
    lines.append(
        f"rows quarantined: {quarantined} ("
        + ", ".join(f"{reason} {count}" for reason, count in reasons)
        + ")"
    )
    lines.append(f"warehouse: {warehouse}")
    lines.append(f"payout files: {out / 'payouts'}")
    return "\n".join(lines)


@flow(name="demo")
def demo_flow(
    directory: Path = Path("demo_output"),
    scale: int = 1,
    seed: int = 20250101,
    nights: str = "quarterly",
) -> dict:
    """Generate a demo landing directory and replay its year of nights.

    The default replays the first night of each quarter: each of those runs closes the three
    months before it (every month still gets its batch). `monthly` runs every close night.
    """
    started = time.monotonic()
    for generated in ("landing", "warehouse", "out"):
        if (directory / generated).exists():
            shutil.rmtree(directory / generated)
    landing = directory / "landing"
    stats = generate_demo_landing(landing, seed=seed, scale=scale)
    warehouse = directory / "warehouse" / "partner_ledger.duckdb"
    out = directory / "out"
    dates = replay_nights(stats.first_day, stats.last_day, nights)
    for night in dates:
        nightly_settlement(
            as_of=night,
            landing=landing,
            rules=DEFAULTS["rules"],
            warehouse=warehouse,
            out=out,
            scenario="demo",
        )
    text = demo_summary(warehouse, out, time.monotonic() - started, len(dates))
    return {"text": text, "nights": [night.isoformat() for night in dates]}
