"""The worked example settled night by night on Spark, cent for cent against the DuckDB run
(docs/decisions/0028).

The example's three closing nights (2025-04-01, 05-01 and 06-01) are real nightly flow runs on
DuckDB (conftest.example_three_nights), and one more night after a partner is delivered late
(joined in February, first seen in June: the tier store gets rows for months that are frozen for
everyone else). Then, on a local Spark session (dbt-spark, session method, in the Spark
environment of scripts/spark_check/env.sh), the same raw and rules tables, as DuckDB had them
each night, are settled night by night by `dbt run --target spark`, the data tests run on
Spark's tables, and every table of the ledger and the marts is compared with DuckDB's row for
row, on every column. Needs Java 17; skipped, saying so, without it.

Four nights, not the eight of run_dates.txt: the example's README says any list of nights that
holds the three closes gives the same files and totals, and a Spark night costs about 100
CPU-seconds here whatever its size (decision 0028, "The worked example on four nights").
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest

from flows.nightly import nightly_settlement
from partner_ledger.settle.dbt import PROJECT_DIR
from tests.conftest import EXAMPLE_NIGHTS, read_csv_rows

SPARK_CHECK = PROJECT_DIR / "scripts" / "spark_check"


def _java_major() -> int | None:
    java = shutil.which("java")
    if java is None:
        return None
    shown = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    found = re.search(r'version "(\d+)', shown)
    return int(found.group(1)) if found else None


pytestmark = pytest.mark.skipif(
    _java_major() != 17,
    reason="the Spark settlement needs Java 17 (`java -version`), which this machine lacks",
)

# the ledger and every mart and export (compare_all.py reads them from the DuckDB warehouse)
TABLES = {
    "ledger.ledger_entries",
    "ledger.ledger_partner_tiers_monthly",
    "ledger.ledger_period_closes",
    "ledger.ledger_statements",
    "main.dim_customers",
    "main.dim_partners",
    "main.exp_payouts",
    "main.exp_statements",
    "main.fct_attributions",
    "main.fct_ledger_entries",
    "main.fct_paid_events",
    "main.fct_partner_balances",
    "main.fct_partner_tiers_monthly",
    "main.fct_payout_batches",
    "main.fct_payout_lines",
    "main.fct_payout_statements",
    "main.fct_statement_entries",
    "main.quarantine",
}


LATE_NIGHT = "2025-06-10"
LATE_PARTNER = (
    "partner_id,program_id,partner_code,name,email,recruited_by,joined_at,status,"
    "status_changed_at,payout_method,payout_account\n"
    "pt_petra,prog_lumen,petra,Petra Lind,petra@late-list.example,,2025-02-01T09:00:00Z,"
    "active,,sepa,DE89370400440532013000\n"
)


@pytest.fixture(scope="module")
def spark_report(example_three_nights: Path, example: Path, tmp_path_factory) -> dict:
    workdir = tmp_path_factory.mktemp("spark_example")
    # the three closing nights, run once per run of the suite (conftest.example_three_nights)
    shutil.copytree(example_three_nights, workdir, dirs_exist_ok=True)
    landing = workdir / "landing"
    shutil.copytree(example / "landing", landing)
    warehouse = workdir / "warehouse" / "example.duckdb"
    nights = list(EXAMPLE_NIGHTS)

    def night(as_of: str) -> None:
        nightly_settlement(
            as_of=date.fromisoformat(as_of),
            landing=landing,
            rules=example / "rules",
            warehouse=warehouse,
            out=workdir / "out",
        )

    # what the nights so far had delivered; the late partner reaches Spark with the last night
    delivered = workdir / "delivered_before_the_late_partner.duckdb"
    shutil.copyfile(warehouse, delivered)
    (landing / "tracking" / "partners" / "late_partners.csv").write_text(LATE_PARTNER)
    night(LATE_NIGHT)
    nights_given = [f"{nights[0]}={delivered}", *nights[1:], f"{LATE_NIGHT}={warehouse}"]
    python = subprocess.run(
        [str(SPARK_CHECK / "env.sh")], check=True, capture_output=True, text=True
    ).stdout.strip()
    report = workdir / "spark_report.json"
    env = {
        **os.environ,
        "PARTNER_LEDGER_SPARK_DIR": str(workdir / "spark"),
        "PYTHONPATH": str(SPARK_CHECK),
        "TZ": "UTC",
    }
    (workdir / "spark").mkdir()
    done = subprocess.run(
        [
            python,
            str(SPARK_CHECK / "settle_spark.py"),
            "--probe",
            "ledger.ledger_entries:partner_id",
            str(warehouse),
            str(report),
            *nights_given,
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if not report.exists():
        pytest.fail(f"the Spark settlement wrote no report:\n{done.stderr[-3000:]}")
    return json.loads(report.read_text())


def test_every_night_settles_on_spark_and_passes_the_data_tests(spark_report: dict) -> None:
    assert list(spark_report["nights"]) == [*EXAMPLE_NIGHTS, LATE_NIGHT]  # in this order
    assert all(night["success"] for night in spark_report["nights"].values())
    assert spark_report["tests_success"] is True


def test_every_table_agrees_with_duckdb_row_for_row(spark_report: dict) -> None:
    tables = spark_report["tables"]
    assert set(tables) == TABLES
    differing = {
        name: table
        for name, table in tables.items()
        if table["only_in_spark"] or table["only_in_duckdb"]
    }
    assert differing == {}
    # the comparison has something to compare: three closes, their lines and statements
    assert tables["ledger.ledger_period_closes"]["rows"] == 3
    assert tables["main.fct_payout_lines"]["rows"] == 6
    assert tables["ledger.ledger_statements"]["rows"] == 9
    assert tables["ledger.ledger_entries"]["rows"] > 0
    # a row per partner and month since it joined: mira and olga January to June, noah and the
    # late petra February to June
    assert tables["ledger.ledger_partner_tiers_monthly"]["rows"] == 6 + 6 + 5 + 5
    assert spark_report["success"] is True


def test_spark_ledger_totals_are_the_hand_computed_ones(spark_report: dict, example: Path) -> None:
    actual = {(partner, kind): cents for partner, kind, cents in spark_report["ledger_totals"]}
    expected = {
        (row["partner_id"], row["entry_type"]): int(row["amount_cents"])
        for row in read_csv_rows(example / "expected" / "ledger_totals.csv")
    }
    assert actual == expected


def test_a_null_in_a_contract_column_fails_the_store_on_spark(spark_report: dict) -> None:
    """Parquet cannot declare a column NOT NULL: the contract's post-hook must refuse the table
    (macros/spark.sql). The probe runs last in the settling process: it poisons Spark's
    ledger."""
    found = spark_report["probe"]
    assert found["success"] is False
    assert any(
        "ledger.ledger_entries: 1 row(s) with a null in a not-null column of the contract"
        in message
        and "partner_id" in message
        for message in found["messages"]
    ), found["messages"]
