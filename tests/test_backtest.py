"""`backtest`: candidate rules beside the baseline, in scratch warehouses only."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from flows.backtest import backtest_flow
from flows.rules import RulesError
from tests.conftest import read_csv_rows


def test_lower_pro_threshold_promotes_olga_in_april(
    prefect_harness, example: Path, tmp_path: Path
) -> None:
    candidate = tmp_path / "candidate_rules"
    shutil.copytree(example / "rules", candidate)
    tiers = (candidate / "tiers.csv").read_text()
    (candidate / "tiers.csv").write_text(tiers.replace("pro,2,3,40000,45", "pro,2,2,20000,45"))
    warehouse = tmp_path / "real" / "partner_ledger.duckdb"
    out = tmp_path / "real_out"
    report = tmp_path / "report"

    result = backtest_flow(
        candidate_rules=candidate,
        date_from=date(2025, 3, 1),
        date_to=date(2025, 6, 1),
        landing=example / "landing",
        warehouse=warehouse,
        out=out,
        report=report,
        baseline_rules=example / "rules",
    )

    assert not warehouse.exists() and not out.exists()  # never touched
    changes = read_csv_rows(report / "tier_changes.csv")
    assert changes == [
        {
            "program_id": "prog_lumen",
            "partner_id": "pt_olga",
            "month": "2025-04",
            "baseline_tier": "standard",
            "candidate_tier": "pro",
        }
    ]
    by_partner = {row["partner_id"]: row for row in read_csv_rows(report / "by_partner.csv")}
    # Olga's April commission on in_chloe_04: 10000 × 2000 bps → 2500 bps = +500 cents
    assert int(by_partner["pt_olga"]["difference_cents"]) == 500
    assert int(by_partner["pt_mira"]["difference_cents"]) == 0
    assert "commission cost EUR: baseline 367.74, candidate 372.74" in result["headline"]
    con = duckdb.connect(str(report / "backtest.duckdb"), read_only=True)
    months = con.execute(
        "select month, difference_cents from report.by_month where difference_cents != 0"
    ).fetchall()
    assert months == [("2025-04", 500)]
    assert (report / "by_tier.parquet").exists()


def test_invalid_candidate_rules_are_refused_first(example: Path, tmp_path: Path) -> None:
    candidate = tmp_path / "candidate_rules"
    shutil.copytree(example / "rules", candidate)
    phases = (candidate / "phases.csv").read_text().replace("ongoing,2,", "ongoing,1,")
    (candidate / "phases.csv").write_text(phases)
    with pytest.raises(RulesError, match="phases.csv row"):
        backtest_flow.fn(
            candidate_rules=candidate,
            date_from=date(2025, 3, 1),
            date_to=date(2025, 6, 1),
            landing=example / "landing",
            warehouse=tmp_path / "w.duckdb",
            out=tmp_path / "out",
            report=tmp_path / "report",
        )
    assert not (tmp_path / "report").exists()
