"""House style, enforced by the test suite (STYLE.md): ruff check and ruff format for Python,
sqlfluff (dialect duckdb, the dbt templater, `.sqlfluff`) for the models and data tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUFF = Path(sys.executable).parent / "ruff"


def test_ruff_check() -> None:
    result = subprocess.run(
        [
            str(RUFF),
            "check",
            "partner_ledger",
            "flows",
            "tests",
            "benchmarks",
            "notebooks",
            "scripts",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format() -> None:
    result = subprocess.run(
        [
            str(RUFF),
            "format",
            "--check",
            "partner_ledger",
            "flows",
            "tests",
            "benchmarks",
            "notebooks",
            "scripts",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# sqlfluff's parser recurses once per nested grammar element: a model's long expressions pass
# Python's default limit of 1,000 frames, and sqlfluff reports the RecursionError as a warning,
# leaving that file unread (models/ledger/ledger_statements.sql was, until session 19). It runs
# here with a deeper limit, in a thread with a stack to match.
DEEP_SQLFLUFF = """
import sys, threading
sys.setrecursionlimit(20_000)
threading.stack_size(256 * 1024 * 1024)
from sqlfluff.cli.commands import cli
codes = []
def lint():
    try:
        cli(sys.argv[1:])
    except SystemExit as exit:
        codes.append(exit.code)
thread = threading.Thread(target=lint)
thread.start()
thread.join()
sys.exit(codes[0] if codes else 1)
"""


def test_sqlfluff_lint(tmp_path: Path) -> None:
    """Every model and data test at 0 violations, and every file read: a file sqlfluff could not
    parse (a traceback in its output) fails too. The dbt templater compiles the project (about a
    minute of CPU on this project: docs/decisions/0025); its warehouse and target stay in tmp."""
    env = {
        **os.environ,
        "PARTNER_LEDGER_WAREHOUSE": str(tmp_path / "lint.duckdb"),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
    }
    result = subprocess.run(
        [sys.executable, "-c", DEEP_SQLFLUFF, "lint", "models", "data-tests"]
        + ["--disable-progress-bar"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    output = result.stdout[-20000:] + result.stderr[-5000:]
    assert result.returncode == 0, output
    assert "Traceback" not in result.stdout + result.stderr, output
