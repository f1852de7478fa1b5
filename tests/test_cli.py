"""The `partner-ledger` console command, as a user runs it (subprocesses, real Prefect runs)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import read_csv_rows

BIN = Path(sys.executable).parent / "partner-ledger"


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    full_env.pop("PREFECT_API_URL", None)  # the command runs with no Prefect server configured
    return subprocess.run(
        [str(BIN), *args], capture_output=True, text=True, env=full_env, timeout=600
    )


def test_help_lists_the_commands() -> None:
    result = _run(["--help"])
    assert result.returncode == 0
    for command in ("run", "backtest", "demo", "serve"):
        assert command in result.stdout


def test_run_from_environment_then_refuse_bad_rules(example: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "wh" / "ledger.duckdb"
    out = tmp_path / "out"
    env = {
        "PARTNER_LEDGER_LANDING": str(example / "landing"),
        "PARTNER_LEDGER_RULES": str(example / "rules"),
        "PARTNER_LEDGER_WAREHOUSE": str(warehouse),
        "PARTNER_LEDGER_OUT": str(out),
    }
    first = _run(["run", "--as-of", "2025-04-01"], env)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "batches closed: prog_lumen-2025-03" in first.stdout
    paid = read_csv_rows(out / "payouts" / "prog_lumen" / "2025-03" / "payouts.csv")
    assert [(row["partner_id"], row["amount"]) for row in paid] == [
        ("pt_mira", "35.87"),
        ("pt_olga", "133.00"),
    ]

    broken = tmp_path / "rules"
    shutil.copytree(example / "rules", broken)
    rates = (broken / "rates.csv").read_text().replace(",3500,", ",-3500,", 1)
    (broken / "rates.csv").write_text(rates)
    warehouse_bytes = hashlib.sha256(warehouse.read_bytes()).hexdigest()
    second = _run(["run", "--as-of", "2025-05-01", "--rules", str(broken)], env)
    assert second.returncode == 1
    assert "rates.csv row 1" in second.stderr and "negative" in second.stderr.lower()
    assert hashlib.sha256(warehouse.read_bytes()).hexdigest() == warehouse_bytes
    assert not (out / "payouts" / "prog_lumen" / "2025-04").exists()


def test_missing_as_of_is_a_clear_error(tmp_path: Path) -> None:
    result = _run(["run", "--warehouse", str(tmp_path / "w.duckdb")], {"PARTNER_LEDGER_AS_OF": ""})
    assert result.returncode == 1
    assert "--as-of is required" in result.stderr


def test_serve_schedules_the_nightly_flow_with_a_cron(tmp_path: Path) -> None:
    from flows.cli import build_parser, nightly_deployment

    args = build_parser().parse_args(
        ["serve", "--cron", "15 3 * * *", "--warehouse", str(tmp_path / "w.duckdb")]
    )
    deployment = nightly_deployment(args)
    assert deployment.name == "nightly-settlement"
    assert [schedule.schedule.cron for schedule in deployment.schedules] == ["15 3 * * *"]
    assert deployment.parameters["warehouse"] == str((tmp_path / "w.duckdb").resolve())
    assert "as_of" not in deployment.parameters  # a scheduled run settles the night it runs
