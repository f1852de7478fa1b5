"""A night works on a second name of the warehouse file, not a copy (issue 11, decision 0027).

From the session's three example nights, the night that closes June runs three ways, each on its
own copy of that warehouse and payout folder, with real nightly flow runs:
- while another process holds the warehouse open: the run falls back to a copy of the file,
  which is renamed over the warehouse at the commit (the file is a new one);
- with the program's payout folder taken by a file: the run fails when it stages the batches,
  after the dbt build and the audit, with the whole night in the working copy's write-ahead log;
  the warehouse must hold exactly what it held, in every schema;
- the same warehouse once the folder is back: the night commits in place (the warehouse is the
  same file) and equals the copy's night, table by table, and its June batch files byte by byte.
A run killed with its log half written is in tests/test_crash_and_order.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from flows.nightly import nightly_settlement
from partner_ledger.io.warehouse import wal_path
from partner_ledger.settle.night import working_copy_path
from tests.conftest import digest_tree, warehouse_differences

NIGHT = date(2025, 7, 1)  # closes June
PROGRAM = "prog_lumen"
MODEL_TABLES = 30  # the model schemas hold more tables than this


def _place(source: Path, root: Path) -> Path:
    """A copy of the three nights' warehouse and payout folders; the warehouse's path."""
    warehouse = root / "warehouse" / "example.duckdb"
    warehouse.parent.mkdir(parents=True)
    shutil.copyfile(source / "warehouse" / "example.duckdb", warehouse)
    shutil.copytree(source / "out" / "payouts", root / "out" / "payouts")
    return warehouse


def _night(example: Path, warehouse: Path) -> dict:
    return nightly_settlement(
        as_of=NIGHT,
        landing=example / "landing",
        rules=example / "rules",
        warehouse=warehouse,
        out=warehouse.parent.parent / "out",
    )


def _june(warehouse: Path) -> dict[str, str]:
    return digest_tree(warehouse.parent.parent / "out" / "payouts" / PROGRAM / "2025-06")


def _leftovers(warehouse: Path) -> list[str]:
    work = working_copy_path(warehouse)
    return [str(p) for p in (work, wal_path(work)) if p.exists()]


@pytest.fixture(scope="module")
def nights(prefect_harness, example_three_nights: Path, example: Path, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("working_copy")

    # 1. another process holds the warehouse open (a notebook's read-only connection)
    copied = _place(example_three_nights, root / "copied")
    inode_before_copy = copied.stat().st_ino
    reader = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time\n"
            f"con = duckdb.connect({str(copied)!r}, read_only=True)\n"
            "print('open', flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout.readline().strip() == "open"
        copied_summary = _night(example, copied)
    finally:
        reader.kill()
        reader.wait()

    # 2. no batch can be staged: the program's payout folder is a file
    linked = _place(example_three_nights, root / "linked")
    before = root / "before" / "example.duckdb"
    before.parent.mkdir()
    shutil.copyfile(linked, before)
    inode = linked.stat().st_ino
    program = linked.parent.parent / "out" / "payouts" / PROGRAM
    aside = program.with_name("aside")
    program.rename(aside)
    program.write_text("not a folder\n")
    with pytest.raises(Exception) as failed:
        _night(example, linked)
    after_failure = {
        "error": str(failed.value),
        "differences": warehouse_differences(before, linked, MODEL_TABLES, schemas=None),
        "leftovers": _leftovers(linked),
        "same_file": linked.stat().st_ino == inode,
    }

    # 3. the folder is back: the same night again
    program.unlink()
    aside.rename(program)
    linked_summary = _night(example, linked)
    return {
        "copied": copied,
        "copied_is_new_file": copied.stat().st_ino != inode_before_copy,
        "copied_summary": copied_summary,
        "after_failure": after_failure,
        "linked": linked,
        "linked_is_same_file": linked.stat().st_ino == inode,
        "linked_summary": linked_summary,
    }


def test_a_warehouse_open_elsewhere_makes_the_run_work_on_a_copy(nights: dict) -> None:
    assert nights["copied_summary"]["batches_closed"] == [f"{PROGRAM}-2025-06"]
    assert nights["copied_is_new_file"]  # renamed over the warehouse: the copy's path
    assert _leftovers(nights["copied"]) == []


def test_a_run_that_fails_after_its_build_changes_nothing(nights: dict) -> None:
    failure = nights["after_failure"]
    assert "cannot be produced" in failure["error"] and PROGRAM in failure["error"]
    assert failure["differences"] == {}  # every table of every schema, raw and ops included
    assert failure["leftovers"] == []
    assert failure["same_file"]


def test_a_night_commits_in_place_what_a_copy_commits(nights: dict) -> None:
    summary = nights["linked_summary"]
    assert summary["batches_closed"] == [f"{PROGRAM}-2025-06"]
    assert summary["batches_published"] == [f"{PROGRAM}-2025-06"]
    assert nights["linked_is_same_file"]
    assert _leftovers(nights["linked"]) == []
    assert not os.path.exists(wal_path(nights["linked"]))
    assert warehouse_differences(nights["copied"], nights["linked"], MODEL_TABLES) == {}
    assert _june(nights["linked"]) == _june(nights["copied"])
