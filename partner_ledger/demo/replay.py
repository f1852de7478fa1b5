"""Which nights a demo year replays, and the summary it prints."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

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
