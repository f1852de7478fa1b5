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
from datetime import date, timedelta
from pathlib import Path

import duckdb
from prefect import flow

from flows.nightly import nightly_settlement
from partner_ledger.config import DEFAULTS
from partner_ledger.rules.validate import validate_rules

COST_TYPES = "('commission', 'referral_commission', 'clawback', 'referral_clawback')"

IN_WINDOW = "earned_at >= $date_from and earned_at < $date_to"
OVERLAPS_WINDOW = "{start} < $date_to and {end} > $date_from"
REPORTS = {
    "by_month": f"""
        select program_id, currency, strftime(earned_at, '%Y-%m') as month, sum(amount_cents) as cost_cents
        from {{side}}.fct_ledger_entries where entry_type in {COST_TYPES} and {IN_WINDOW}
        group by all
    """,
    "by_partner": f"""
        select program_id, currency, partner_id, sum(amount_cents) as cost_cents
        from {{side}}.fct_ledger_entries where entry_type in {COST_TYPES} and {IN_WINDOW}
        group by all
    """,
    "by_tier": f"""
        select program_id, currency, coalesce(tier, '(none)') as tier, sum(amount_cents) as cost_cents
        from {{side}}.fct_ledger_entries where entry_type in {COST_TYPES} and {IN_WINDOW}
        group by all
    """,
    "payouts": f"""
        select program_id, currency, period, total_cents as cost_cents
        from {{side}}.fct_payout_batches
        where {OVERLAPS_WINDOW.format(start="period_start", end="period_end")}
    """,
}
KEYS = {
    "by_month": ["program_id", "currency", "month"],
    "by_partner": ["program_id", "currency", "partner_id"],
    "by_tier": ["program_id", "currency", "tier"],
    "payouts": ["program_id", "currency", "period"],
}


def backtest_nights(date_from: date, date_to: date, cadence: str) -> list[date]:
    """The nights a backtest replays: --from, the cadence's nights strictly between, and --to."""
    nights = {date_from, date_to}
    day = date_from + timedelta(days=1)
    while day < date_to:
        weekly_step = (day - date_from).days % 7 == 0
        if (
            cadence == "daily"
            or (cadence == "weekly" and weekly_step)
            or (cadence in ("monthly", "semimonthly") and day.day == 1)
            or (cadence == "semimonthly" and day.day == 16)
            or (cadence == "quarterly" and day.day == 1 and day.month % 3 == 1)
        ):
            nights.add(day)
        day += timedelta(days=1)
    return sorted(nights)


def _compare(con: duckdb.DuckDBPyConnection, name: str, window: dict[str, date]) -> None:
    keys = KEYS[name]
    on = " and ".join(f"baseline.{k} = candidate.{k}" for k in keys)
    select_keys = ", ".join(f"coalesce(baseline.{k}, candidate.{k}) as {k}" for k in keys)
    con.execute(
        f"""
        create or replace table report.{name} as
        with baseline as ({REPORTS[name].format(side="baseline")}),
             candidate as ({REPORTS[name].format(side="candidate")})
        select {select_keys},
               coalesce(baseline.cost_cents, 0)::bigint as baseline_cents,
               coalesce(candidate.cost_cents, 0)::bigint as candidate_cents,
               (coalesce(candidate.cost_cents, 0) - coalesce(baseline.cost_cents, 0))::bigint
                   as difference_cents,
               case when coalesce(baseline.cost_cents, 0) != 0
                   then round(coalesce(candidate.cost_cents, 0)::double
                              / baseline.cost_cents::double, 4) end as ratio
        from baseline full outer join candidate on {on}
        order by all
        """,
        window,
    )


def _tier_changes(con: duckdb.DuckDBPyConnection, window: dict[str, date]) -> None:
    in_window = OVERLAPS_WINDOW.format(
        start="coalesce(baseline.month_start, candidate.month_start)",
        end="coalesce(baseline.month_end, candidate.month_end)",
    )
    con.execute(
        f"""
        create or replace table report.tier_changes as
        select coalesce(baseline.program_id, candidate.program_id) as program_id,
               coalesce(baseline.partner_id, candidate.partner_id) as partner_id,
               strftime(coalesce(baseline.month_start, candidate.month_start), '%Y-%m') as month,
               baseline.tier as baseline_tier, candidate.tier as candidate_tier
        from baseline.fct_partner_tiers_monthly as baseline
        full outer join candidate.fct_partner_tiers_monthly as candidate
            on baseline.partner_id = candidate.partner_id
            and baseline.month_start = candidate.month_start
        where baseline.tier is distinct from candidate.tier
            and {in_window}
        order by all
        """,
        window,
    )


def write_report(
    baseline: Path, candidate: Path, report: Path, date_from: date, date_to: date
) -> str:
    """Compare two replayed warehouses over [date_from, date_to); write report tables and
    files; return the headline."""
    window = {"date_from": date_from, "date_to": date_to}
    report.mkdir(parents=True, exist_ok=True)
    database = report / "backtest.duckdb"
    database.unlink(missing_ok=True)
    con = duckdb.connect(str(database))
    try:
        con.execute(f"attach '{baseline}' as baseline (read_only)")
        con.execute(f"attach '{candidate}' as candidate (read_only)")
        con.execute("create schema report")
        for name in REPORTS:
            _compare(con, name, window)
        _tier_changes(con, window)
        for name in [*REPORTS, "tier_changes"]:
            con.execute(f"copy report.{name} to '{report / (name + '.csv')}' (header)")
            con.execute(f"copy report.{name} to '{report / (name + '.parquet')}' (format parquet)")
        totals = con.execute(
            "select currency, sum(baseline_cents), sum(candidate_cents) from report.by_partner "
            "group by 1 order by 1"
        ).fetchall()
        payouts = con.execute(
            "select currency, sum(baseline_cents), sum(candidate_cents) from report.payouts "
            "group by 1 order by 1"
        ).fetchall()
        changes = con.execute(
            "select count(distinct partner_id), count(*) from report.tier_changes"
        ).fetchone()
    finally:
        con.close()
    lines = [
        f"window: {date_from} to {date_to} (entries earned from {date_from}, before {date_to})"
    ]
    for currency, base, cand in totals:
        ratio = f"{cand / base:.4f}" if base else "n/a"
        lines.append(
            f"commission cost {currency}: baseline {base / 100:,.2f}, candidate {cand / 100:,.2f}, "
            f"difference {(cand - base) / 100:+,.2f}, ratio {ratio}"
        )
    for currency, base, cand in payouts:
        lines.append(
            f"payouts {currency}: baseline {base / 100:,.2f}, candidate {cand / 100:,.2f}, "
            f"difference {(cand - base) / 100:+,.2f}"
        )
    lines.append(f"partners changing tier: {changes[0]} ({changes[1]} partner-months)")
    lines.append(f"report: {report}")
    return "\n".join(lines)


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
