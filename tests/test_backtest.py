"""`backtest`: candidate rules beside the baseline, in scratch warehouses only."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from flows.backtest import backtest_flow
from partner_ledger.rules.validate import RulesError
from partner_ledger.settle.backtest import backtest_nights
from tests.conftest import read_csv_rows


@pytest.mark.parametrize(
    ("cadence", "expected"),
    [
        ("monthly", ["05-01", "06-01"]),
        ("semimonthly", ["05-01", "05-16", "06-01"]),
        ("weekly", ["05-01", "05-08", "05-15", "05-22", "05-29", "06-01"]),
        ("quarterly", ["05-01", "06-01"]),
    ],
)
def test_the_nights_replayed_are_the_window_asked(cadence: str, expected: list[str]) -> None:
    """--from, the cadence's nights strictly between, and --to: never a night outside."""
    nights = backtest_nights(date(2025, 5, 1), date(2025, 6, 1), cadence)
    assert [night.isoformat() for night in nights] == [f"2025-{day}" for day in expected]


def test_daily_and_quarterly_nights() -> None:
    daily = backtest_nights(date(2025, 1, 30), date(2025, 2, 2), "daily")
    assert [night.isoformat() for night in daily] == [
        "2025-01-30",
        "2025-01-31",
        "2025-02-01",
        "2025-02-02",
    ]
    quarterly = backtest_nights(date(2025, 2, 15), date(2025, 10, 15), "quarterly")
    assert [night.isoformat() for night in quarterly] == [
        "2025-02-15",
        "2025-04-01",
        "2025-07-01",
        "2025-10-01",
        "2025-10-15",
    ]
    assert backtest_nights(date(2025, 5, 1), date(2025, 5, 1), "monthly") == [date(2025, 5, 1)]


def test_lower_pro_threshold_promotes_olga_in_april(
    prefect_harness, example: Path, tmp_path: Path, capsys
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
        date_from=date(2025, 4, 1),
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
    # April and May only (the whole history, March included, was 367.74 and 372.74):
    # 165.00 - 112.00 + 1.00 - 0.35 (April) + 90.00 + 1.00 (May)
    assert (
        "commission cost EUR: baseline 144.65, candidate 149.65, difference +5.00"
        in result["headline"]
    )
    con = duckdb.connect(str(report / "backtest.duckdb"), read_only=True)
    months = con.execute(
        "select month, difference_cents from report.by_month where difference_cents != 0"
    ).fetchall()
    assert months == [("2025-04", 500)]
    assert (report / "by_tier.parquet").exists()

    # exactly the window asked: its nights, its months, and progress night by night
    assert result["nights"] == ["2025-04-01", "2025-05-01", "2025-06-01"]
    assert result["headline"].startswith("window: 2025-04-01 to 2025-06-01")
    assert [
        row[0]
        for row in con.execute("select distinct month from report.by_month order by 1").fetchall()
    ] == ["2025-04", "2025-05"]
    periods = con.execute("select period from report.payouts order by 1").fetchall()
    assert periods == [("2025-04",), ("2025-05",)]  # March closed on --from: before the window
    con.close()
    progress = capsys.readouterr().out
    for side in ("baseline", "candidate"):
        for number, night in enumerate(result["nights"], start=1):
            assert f"backtest {side}: night {number} of 3 (as of {night}) in " in progress
    assert "s; elapsed " in progress

    # the artifacts say what ran: never mixed with a real run's under the same key
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    keys = [f"backtest-{side}-settlement-2025-06-01" for side in ("baseline", "candidate")]
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=keys))
        )
    assert {artifact.key for artifact in artifacts} == set(keys)


def test_invalid_candidate_rules_are_refused_first(example: Path, tmp_path: Path) -> None:
    candidate = tmp_path / "candidate_rules"
    shutil.copytree(example / "rules", candidate)
    phases = (candidate / "phases.csv").read_text().replace("ongoing,2,", "ongoing,1,")
    (candidate / "phases.csv").write_text(phases)
    with pytest.raises(RulesError, match="phases.csv line"):
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
