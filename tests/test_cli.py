"""The `partner-ledger` console command, as a user runs it (subprocesses, real Prefect runs)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import read_csv_rows

BIN = Path(sys.executable).parent / "partner-ledger"


def _run(
    args: list[str], env: dict[str, str] | None = None, keep_api_url: bool = False
) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    if not keep_api_url:
        full_env.pop("PREFECT_API_URL", None)  # the command runs with no Prefect server set
    return subprocess.run(
        [str(BIN), *args], capture_output=True, text=True, env=full_env, timeout=600
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    assert second.returncode == 2
    assert f"{broken.resolve()}/rates.csv line 2: rate_bps -3500 is negative" in second.stderr
    assert hashlib.sha256(warehouse.read_bytes()).hexdigest() == warehouse_bytes
    assert not (out / "payouts" / "prog_lumen" / "2025-04").exists()


def test_missing_as_of_is_a_clear_error(tmp_path: Path) -> None:
    result = _run(["run", "--warehouse", str(tmp_path / "w.duckdb")], {"PARTNER_LEDGER_AS_OF": ""})
    assert result.returncode == 2
    assert "--as-of is required" in result.stderr


def test_a_finished_command_leaves_its_objects_out_of_the_exit_collections(
    tmp_path: Path, monkeypatch
) -> None:
    """The command line freezes the objects it made once a command is done, so that the
    interpreter's exit does not walk them all (about 1.5 s at the end of a night at M)."""
    import gc

    from partner_ledger.cli import main

    monkeypatch.delenv("PARTNER_LEDGER_AS_OF", raising=False)
    gc.unfreeze()
    try:
        assert main(["run", "--warehouse", str(tmp_path / "w.duckdb")]) == 2
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # this test process goes on collecting


def test_serve_deployment_settles_the_night_it_runs(tmp_path: Path) -> None:
    from flows.service import nightly_deployment

    deployment = nightly_deployment({"warehouse": str(tmp_path / "w.duckdb")}, "15 3 * * *")
    assert deployment.name == "nightly-settlement"
    assert [schedule.schedule.cron for schedule in deployment.schedules] == ["15 3 * * *"]
    assert deployment.parameters["warehouse"] == str(tmp_path / "w.duckdb")
    assert deployment.parameters["scenario"] == "scheduled"
    assert "as_of" not in deployment.parameters  # a scheduled run settles the night it runs
    # imported as a module: a file entrypoint puts flows/ on sys.path, where a module named like
    # a package would hide it
    assert deployment.entrypoint == "flows.nightly.nightly_settlement"


def test_inputs_are_refused_before_anything_starts(example: Path, tmp_path: Path) -> None:
    """Options, the landing directory and the rules folder are checked before Prefect starts:
    exit 2, one line per problem with the path and the file's own line, no traceback."""
    rules = tmp_path / "rules"
    shutil.copytree(example / "rules", rules)
    (rules / "tiers.csv").write_text(
        (rules / "tiers.csv").read_text().replace("pro,2,3,40000,45", "pro,2,3,40000,0")
    )
    rates = (rules / "rates.csv").read_text().splitlines()
    (rules / "rates.csv").write_text("program_id,tier,phase,valid_from\n" + rates[1] + "\n")
    warehouse = tmp_path / "wh" / "ledger.duckdb"
    started = time.monotonic()
    result = _run(
        [
            "run",
            "--as-of",
            "2025-02-30",
            "--landing",
            str(tmp_path / "unmounted"),
            "--rules",
            str(rules),
            "--warehouse",
            str(warehouse),
        ]
    )
    elapsed = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    assert elapsed < 2, elapsed
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert result.stderr.splitlines() == [
        "partner-ledger run: --as-of: expected a date YYYY-MM-DD, got '2025-02-30'",
        f"partner-ledger run: the landing directory {tmp_path / 'unmounted'} does not exist "
        "(--landing or PARTNER_LEDGER_LANDING); is the drive mounted?",
        f"partner-ledger run: {rules}/tiers.csv line 3: lookback_days 0 is below 1; expected a "
        "whole number >= 1 on a tier above rank 1 (a lookback window of 0 days would count "
        "nothing; write the window the requirements are measured over)",
        f"partner-ledger run: {rules}/rates.csv line 1: missing column(s) rate_bps; expected "
        "program_id, tier, phase, rate_bps, valid_from",
    ]
    assert not warehouse.parent.exists()  # nothing started: no warehouse, no Prefect state


def test_serve_refuses_bad_inputs_before_starting_a_server(example: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    result = _run(
        ["serve", "--cron", "61 * * * *", "--port", "http", "--landing", str(tmp_path / "gone")]
        + ["--rules", str(example / "rules"), "--warehouse", str(tmp_path / "wh" / "w.duckdb")]
    )
    assert time.monotonic() - started < 2
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"partner-ledger serve: the landing directory {tmp_path / 'gone'} does not exist "
        "(--landing or PARTNER_LEDGER_LANDING); is the drive mounted?",
        "partner-ledger serve: --port 'http': expected a TCP port number",
        "partner-ledger serve: --cron '61 * * * *' is not a cron expression (minute hour day "
        "month weekday, UTC)",
    ]
    assert not (tmp_path / "wh").exists()


def test_a_missing_landing_directory_fails_a_run_that_was_started(
    prefect_harness, example: Path, tmp_path: Path
) -> None:
    """A scheduled run (no preflight) with its landing directory gone fails, and commits
    nothing: an unmounted drive does not look like a quiet night."""
    from datetime import date

    import pytest

    from flows.nightly import nightly_settlement

    warehouse = tmp_path / "wh" / "ledger.duckdb"
    with pytest.raises(FileNotFoundError, match="unmounted"):
        nightly_settlement(
            as_of=date(2025, 4, 1),
            landing=tmp_path / "unmounted",
            rules=example / "rules",
            warehouse=warehouse,
            out=tmp_path / "out",
        )
    assert not warehouse.exists()


def test_no_prefect_server_at_the_given_url_says_what_to_do(example: Path, tmp_path: Path) -> None:
    port = _free_port()
    result = _run(
        ["run", "--as-of", "2025-04-01", "--landing", str(example / "landing")]
        + ["--rules", str(example / "rules"), "--warehouse", str(tmp_path / "w.duckdb")],
        {"PREFECT_API_URL": f"http://127.0.0.1:{port}/api"},
        keep_api_url=True,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"partner-ledger run: error: no Prefect server answers at PREFECT_API_URL="
        f"http://127.0.0.1:{port}/api: start it (`partner-ledger serve`, or `prefect server "
        "start`), or unset PREFECT_API_URL to run on a temporary server"
    )


def test_a_temporary_server_that_does_not_start_says_what_to_set(
    example: Path, tmp_path: Path
) -> None:
    result = _run(
        ["run", "--as-of", "2025-04-01", "--landing", str(example / "landing")]
        + ["--rules", str(example / "rules"), "--warehouse", str(tmp_path / "w.duckdb")],
        {"PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "1"},
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "stdout:" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if "error:" in line]
    assert errors == [
        "partner-ledger run: error: the temporary Prefect server did not answer within 1 s "
        "(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS); on a busy machine set "
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS higher, or keep a server running "
        "(`partner-ledger serve`, or `prefect server start`) and set "
        "PREFECT_API_URL=http://127.0.0.1:4200/api"
    ]


def _wait_for_lock_holder(lock: Path, pid: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if lock.exists() and f'"pid": {pid},' in lock.read_text():
            return
        time.sleep(0.1)
    raise AssertionError(f"{lock} never named pid {pid}")


def test_one_writer_private_files_and_the_nights_summary(example: Path, tmp_path: Path) -> None:
    """Two real runs on one warehouse: the second is refused at once while the first writes;
    a lock left by a dead process is taken over. The warehouse and its folder are owner-only,
    Prefect's state lives beside it (never in ~/.prefect), and the summary line gives this
    night's quarantined rows and the seconds per stage."""
    landing = tmp_path / "landing"
    shutil.copytree(example / "landing", landing)
    (landing / "tracking" / "clicks" / "broken.csv").write_text(
        "click_id,program_id,partner_code,occurred_at,visitor_id,landing_url\n"
        "clk_bad,prog_lumen,mira\n"
    )
    warehouse = tmp_path / "wh" / "ledger.duckdb"
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "HOME": str(home),
        "PARTNER_LEDGER_LANDING": str(landing),
        "PARTNER_LEDGER_RULES": str(example / "rules"),
        "PARTNER_LEDGER_WAREHOUSE": str(warehouse),
        "PARTNER_LEDGER_OUT": str(tmp_path / "out"),
    }
    full_env = {**os.environ, **env}
    full_env.pop("PREFECT_API_URL", None)
    full_env.pop("PREFECT_HOME", None)
    first = subprocess.Popen(
        [str(BIN), "run", "--as-of", "2025-04-01"],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lock = warehouse.with_name("ledger.duckdb.lock")
        _wait_for_lock_holder(lock, first.pid, first)
        started = time.monotonic()
        second = _run(["run", "--as-of", "2025-04-01"], env)
        assert time.monotonic() - started < 5
        assert second.returncode == 3, second.stderr
        assert f"is being written by pid {first.pid} (started " in second.stderr
        assert f"one run at a time: wait for it to finish (lock file {lock})" in second.stderr
        stdout, stderr = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, stderr[-3000:]
    assert "1 row(s) quarantined tonight (1 in quarantine)" in stdout
    assert "batches closed: prog_lumen-2025-03; seconds: copy " in stdout
    for stage in ("ingest", "rules", "dbt_build", "audit", "stage", "commit", "publish"):
        assert f", {stage} " in stdout

    assert stat.S_IMODE(warehouse.stat().st_mode) == 0o600
    assert stat.S_IMODE(warehouse.parent.stat().st_mode) == 0o700
    assert (warehouse.parent / "prefect" / "prefect.db").exists()
    assert not (home / ".prefect").exists()

    # a lock file left by a process that died is taken over
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock.write_text(json.dumps({"pid": dead.pid, "started_at": "x", "command": "killed"}))
    third = _run(["run", "--as-of", "2025-05-01"], env)
    assert third.returncode == 0, third.stderr[-3000:]
    assert "0 row(s) quarantined tonight (1 in quarantine)" in third.stdout
