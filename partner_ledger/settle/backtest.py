"""A backtest's nights and its report: the cost difference between the baseline's and the
candidate's scratch warehouses by month, partner and tier, the partners whose tier changes and the
payout totals per batch (a report DuckDB file, CSV and Parquet)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb

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
