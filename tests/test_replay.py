"""A generated year (the demo program) replayed night by night as real flow runs.

Every night's dbt build runs the cross-layer tests (conservation identity, statement chain,
payout totals, nothing lost at load); here we also check the identity directly, that every
month got its batch, and that running the last night again appends nothing.
"""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import duckdb
import pytest

from flows.nightly import nightly_settlement
from partner_ledger.config import DEFAULTS, dbt_target_dir
from partner_ledger.demo.replay import replay_nights


@pytest.fixture(scope="module")
def replayed(demo_replayed) -> tuple[Path, dict]:
    return demo_replayed


def _tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_replay_nights_close_every_month() -> None:
    nights = replay_nights(date(2025, 1, 1), date(2025, 12, 31), "monthly")
    assert nights[0] == date(2025, 2, 1) and nights[-1] == date(2026, 1, 1)
    assert len(nights) == 12
    quarterly = replay_nights(date(2025, 1, 1), date(2025, 12, 31), "quarterly")
    assert quarterly == [date(2025, 4, 1), date(2025, 7, 1), date(2025, 10, 1), date(2026, 1, 1)]
    weekly = replay_nights(date(2025, 1, 1), date(2025, 3, 31), "weekly")
    assert date(2025, 2, 1) in weekly and date(2025, 4, 1) in weekly


def test_every_program_month_has_its_batch(replayed) -> None:
    directory, _ = replayed
    con = duckdb.connect(str(directory / "warehouse" / "partner_ledger.duckdb"), read_only=True)
    periods = con.execute(
        "select program_id, list(period order by period) from fct_payout_batches group by 1"
    ).fetchall()
    for _program, months in periods:
        assert months[-1] == "2025-12"
        years_months = [(int(m[:4]), int(m[5:])) for m in months]
        assert all(
            (b[0] * 12 + b[1]) - (a[0] * 12 + a[1]) == 1
            for a, b in zip(years_months, years_months[1:], strict=False)
        ), "a month was skipped"
    for program, _months in periods:
        for month in _months:
            assert (directory / "out" / "payouts" / program / month / "manifest.json").exists()


def test_conservation_identity_per_partner_and_currency(replayed) -> None:
    directory, _ = replayed
    con = duckdb.connect(str(directory / "warehouse" / "partner_ledger.duckdb"), read_only=True)
    broken = con.execute(
        """
        select program_id, partner_id, currency
        from fct_ledger_entries
        group by all
        having sum(case when entry_type != 'payout' then amount_cents else 0 end)
            != -sum(case when entry_type = 'payout' then amount_cents else 0 end) + sum(amount_cents)
        """
    ).fetchall()
    assert broken == []
    kinds = {
        row[0]
        for row in con.execute("select distinct entry_type from fct_ledger_entries").fetchall()
    }
    assert {"commission", "referral_commission", "clawback", "adjustment", "payout"} <= kinds
    reasons = {
        row[0]
        for row in con.execute(
            "select distinct carried_reason from fct_payout_statements where carried_reason is not null"
        ).fetchall()
    }
    assert {"below_minimum", "missing_payout_details"} <= reasons


def test_quarantine_keeps_every_bad_row(replayed) -> None:
    directory, _ = replayed
    con = duckdb.connect(str(directory / "warehouse" / "partner_ledger.duckdb"), read_only=True)
    rows = con.execute("select count(*), count(distinct reason) from quarantine").fetchone()
    assert rows[0] > 0 and rows[1] >= 3
    missing_text = con.execute(
        "select count(*) from quarantine where file_path is null or raw_text is null and reason "
        "not like 'invalid_header%'"
    ).fetchone()[0]
    assert missing_text == 0


def test_running_the_last_night_again_appends_nothing(replayed) -> None:
    directory, result = replayed
    warehouse = directory / "warehouse" / "partner_ledger.duckdb"
    before = _tree_digest(directory / "out" / "payouts")
    summary = nightly_settlement(
        as_of=date.fromisoformat(result["nights"][-1]),
        landing=directory / "landing",
        rules=DEFAULTS["rules"],
        warehouse=warehouse,
        out=directory / "out",
    )
    assert summary["ledger_entries_appended"] == 0
    assert summary["batches_closed"] == [] and summary["batches_published"] == []
    assert _tree_digest(directory / "out" / "payouts") == before


def test_no_model_multiplies_rows(replayed, tmp_path: Path) -> None:
    """Every model's plan on the replayed year (benchmarks/plans.py): no operator produces more
    than 10 times the rows of the largest table it scans or returns. The only ratio above 2 is
    the tier windows' range join (each event counted once per tier window that covers it: a
    constant of the rules); a join keyed on an expression without the entity id (issue 11:
    events × every partner's tier row of the month) is hundreds of times over."""
    from benchmarks.plans import compiled_models, profile

    directory, _ = replayed
    warehouse = directory / "warehouse" / "partner_ledger.duckdb"
    models = compiled_models(dbt_target_dir(warehouse), set())
    assert len(models) > 50
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        plans = [profile(con, model, sql, tmp_path) for model, sql in models]
    finally:
        con.close()
    over = {plan.model: (plan.ratio, plan.largest_operator) for plan in plans if plan.ratio > 10}
    assert over == {}
    by_model = {plan.model: plan for plan in plans}
    # commissions are scoped (decision 0026): the last night recomputed a few events, and read
    # the year's events and entries to find them
    assert by_model["int_commissions_computed"].largest_scan > 5000
