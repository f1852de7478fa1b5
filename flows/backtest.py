"""`partner-ledger backtest`: the same history under candidate rules, beside the baseline.

Both sides are replayed night by night, with the same nightly flow, into scratch warehouses and
scratch payout folders under the report folder; the landing directory is only read, and the
given warehouse and payout folder are never opened for writing. The difference is reported by
month, partner and tier (commission cost: commissions, referral commissions and their
clawbacks), with the partners whose tier changes and the payout totals per batch, as tables in a
report DuckDB file and as CSV and Parquet files.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
from prefect import flow

from flows.config import DEFAULTS
from flows.demo import replay_nights
from flows.nightly import nightly_settlement
from flows.rules import validate_rules

COST_TYPES = "('commission', 'referral_commission', 'clawback', 'referral_clawback')"

REPORTS = {
    "by_month": f"""
        select program_id, currency, strftime(earned_at, '%Y-%m') as month, sum(amount_cents) as cost_cents
        from {{side}}.fct_ledger_entries where entry_type in {COST_TYPES} group by all
    """,
    "by_partner": f"""
        select program_id, currency, partner_id, sum(amount_cents) as cost_cents
        from {{side}}.fct_ledger_entries where entry_type in {COST_TYPES} group by all
    """,
    "by_tier": f"""
        select program_id, currency, coalesce(tier, '(none)') as tier, sum(amount_cents) as cost_cents
        from {{side}}.fct_ledger_entries where entry_type in {COST_TYPES} group by all
    """,
    "payouts": """
        select program_id, currency, period, total_cents as cost_cents
        from {side}.fct_payout_batches
    """,
}
KEYS = {
    "by_month": ["program_id", "currency", "month"],
    "by_partner": ["program_id", "currency", "partner_id"],
    "by_tier": ["program_id", "currency", "tier"],
    "payouts": ["program_id", "currency", "period"],
}


def _compare(con: duckdb.DuckDBPyConnection, name: str) -> None:
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
        """
    )


def _tier_changes(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(
        """
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
        order by all
        """
    )


def write_report(baseline: Path, candidate: Path, report: Path) -> str:
    """Compare two replayed warehouses; write report tables and files; return the headline."""
    report.mkdir(parents=True, exist_ok=True)
    database = report / "backtest.duckdb"
    database.unlink(missing_ok=True)
    con = duckdb.connect(str(database))
    try:
        con.execute(f"attach '{baseline}' as baseline (read_only)")
        con.execute(f"attach '{candidate}' as candidate (read_only)")
        con.execute("create schema report")
        for name in REPORTS:
            _compare(con, name)
        _tier_changes(con)
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
    lines = []
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
    dates = [
        night
        for night in replay_nights(date_from, date_to, nights)
        if date_from <= night <= date_to
    ]
    if not dates or dates[-1] != date_to:
        dates.append(date_to)
    sides = {"baseline": baseline_rules, "candidate": candidate_rules}
    for side, rules in sides.items():
        for night in dates:
            nightly_settlement(
                as_of=night,
                landing=landing,
                rules=rules,
                warehouse=scratch / side / "warehouse" / "partner_ledger.duckdb",
                out=scratch / side / "out",
            )
    headline = write_report(
        scratch / "baseline" / "warehouse" / "partner_ledger.duckdb",
        scratch / "candidate" / "warehouse" / "partner_ledger.duckdb",
        report,
    )
    return {"headline": headline, "nights": [night.isoformat() for night in dates]}
