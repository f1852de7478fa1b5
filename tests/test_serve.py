"""`serve`: a real local Prefect server, a one-minute cron, and a scheduled run that settles the
worked example (no trigger by hand: the server's scheduler creates the run)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import httpx

BIN = Path(sys.executable).parent / "partner-ledger"
WAIT_FOR_RUN = 240  # seconds: server start, the next minute, one run of the example


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _flow_runs(api: str) -> list[dict]:
    """The runs that started (a one-minute cron also holds many scheduled ones ahead)."""
    started = {"type": {"any_": ["RUNNING", "COMPLETED", "FAILED", "CRASHED"]}}
    response = httpx.post(
        f"{api}/flow_runs/filter",
        json={"limit": 20, "flow_runs": {"state": started}, "sort": "START_TIME_ASC"},
        timeout=10,
    )
    response.raise_for_status()
    return response.json()


def test_serve_runs_the_nightly_settlement_on_its_cron(example: Path, tmp_path: Path) -> None:
    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    warehouse = tmp_path / "wh" / "ledger.duckdb"
    state = tmp_path / "state"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env.update(
        {
            "HOME": str(tmp_path),  # nothing may land in ~/.prefect
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "5",
        }
    )
    serve = subprocess.Popen(
        [str(BIN), "serve", "--cron", "* * * * *", "--port", str(port), "--state", str(state)]
        + ["--landing", str(example / "landing"), "--rules", str(example / "rules")]
        + ["--warehouse", str(warehouse), "--out", str(tmp_path / "out")],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    completed: list[dict] = []
    try:
        deadline = time.monotonic() + WAIT_FOR_RUN
        while time.monotonic() < deadline and serve.poll() is None and not completed:
            time.sleep(5)
            try:
                runs = _flow_runs(api)
            except httpx.HTTPError:
                continue  # the server is still starting
            completed = [run for run in runs if run["state_type"] == "COMPLETED"]
            failed = [run for run in runs if run["state_type"] in ("FAILED", "CRASHED")]
            assert not failed, failed
        assert completed, f"no scheduled run completed within {WAIT_FOR_RUN} s"
        run = completed[0]
        assert run["auto_scheduled"] and run["created_by"]["type"] == "SCHEDULE"
        assert run["name"] == "scheduled-today"
        assert run["parameters"]["warehouse"] == str(warehouse.resolve())

        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            batches = {
                row[0] for row in con.execute("select batch_id from fct_payout_batches").fetchall()
            }
        finally:
            con.close()
        assert {"prog_lumen-2025-03", "prog_lumen-2025-04", "prog_lumen-2025-05"} <= batches
        assert (tmp_path / "out" / "payouts" / "prog_lumen" / "2025-03" / "payouts.csv").exists()
        assert (state / "prefect.db").exists() and not (tmp_path / ".prefect").exists()
    finally:
        serve.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            output, _ = serve.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            serve.kill()
            output, _ = serve.communicate()
    assert serve.returncode == 0, output[-3000:]
    assert f"Prefect server: http://127.0.0.1:{port} (started by serve" in output
    assert "serving nightly-settlement/nightly-settlement on cron '* * * * *' (UTC)" in output
    assert "next run: " in output and "serve stopped" in output
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0  # the server it started has stopped
