"""House style, enforced by the test suite (STYLE.md): ruff check and ruff format for Python,
sqlfluff (dialect duckdb, the dbt templater, `.sqlfluff`) for the models and data tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RUFF = Path(sys.executable).parent / "ruff"
SQLFLUFF = Path(sys.executable).parent / "sqlfluff"


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


def test_sqlfluff_lint(tmp_path: Path) -> None:
    """Every model and data test at 0 violations. The dbt templater compiles the project (about a
    minute of CPU on this project: docs/decisions/0025); its warehouse and target stay in tmp."""
    env = {
        **os.environ,
        "PARTNER_LEDGER_WAREHOUSE": str(tmp_path / "lint.duckdb"),
        "DBT_TARGET_PATH": str(tmp_path / "target"),
    }
    result = subprocess.run(
        [str(SQLFLUFF), "lint", "models", "data-tests", "--disable-progress-bar"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-5000:]
