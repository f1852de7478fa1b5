"""House style for Python: ruff check and ruff format (STYLE.md), enforced by the test suite."""

from __future__ import annotations

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
