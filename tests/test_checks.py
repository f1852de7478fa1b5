"""The audit of new payout batches (write → audit → publish) and a run stopped before its commit.

Uses the worked example run for the nights 2025-04-01, 2025-05-01 and 2025-06-01 by real nightly
flow runs (built once per session, shared with test_publish.py); each test works on its own copy
of the warehouse. Great Expectations passes on the real batches and writes its data docs (an offline page), and
fails with a message naming the expectation once a payout line is tampered with. The statement
identity and chain are dbt's (data-tests/assert_statements_chain.sql), no longer restated here.
A run whose rules folder is invalid raises and leaves the warehouse and payout folders untouched.
"""

from __future__ import annotations

import csv
import hashlib
import re
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from partner_ledger.io.warehouse import connect
from partner_ledger.settle.checks import CheckFailed, check_new_batches

REPO = Path(__file__).resolve().parent.parent
NIGHTS = ("2025-04-01", "2025-05-01", "2025-06-01")
PERIODS = ("2025-03", "2025-04", "2025-05")
PROGRAM = "prog_lumen"


@pytest.fixture(scope="module")
def built(example_three_nights: Path) -> Path:
    return example_three_nights


@pytest.fixture
def warehouse(built: Path, tmp_path: Path) -> Path:
    """A private copy; it keeps the file name (dbt's views name the catalog after it)."""
    target = tmp_path / "warehouse" / "example.duckdb"
    target.parent.mkdir()
    shutil.copyfile(built / "warehouse" / "example.duckdb", target)
    return target


def model_sql(relative: str) -> str:
    """A model's SQL with its refs resolved, as dbt would compile it (plain models only)."""
    text = (REPO / "models" / relative).read_text()
    text = re.sub(r"\{#-?.*?-?#\}", "", text, flags=re.S)

    def resolve(match: re.Match) -> str:
        name = match.group(1)
        return f"intermediate.{name}" if name.startswith("int_") else name

    text = re.sub(r"\{\{\s*ref\('([a-z0-9_]+)'\)\s*\}\}", resolve, text)
    assert "{{" not in text and "{%" not in text, text
    return text


def rebuild(con: duckdb.DuckDBPyConnection, name: str, relative: str) -> None:
    """Rebuild a mart or export the way dbt materialises it (table or view)."""
    kind = con.execute(
        "select table_type from information_schema.tables "
        "where table_schema = 'main' and table_name = ?",
        [name],
    ).fetchone()[0]
    what = "view" if kind == "VIEW" else "table"
    con.execute(f"create or replace {what} {name} as {model_sql(relative)}")


def failed_message(con: duckdb.DuckDBPyConnection, night: str, report_dir: Path) -> str:
    with pytest.raises(CheckFailed) as failure:
        check_new_batches(con, night, report_dir)
    return str(failure.value)


def names_pair_equality(message: str) -> bool:
    return (
        "expect_column_pair_values_to_be_equal" in message
        or "ExpectColumnPairValuesToBeEqual" in message
    )


# --- the audit ---------------------------------------------------------------------------------


def test_checks_pass_on_the_real_batches_and_write_data_docs(
    warehouse: Path, tmp_path: Path
) -> None:
    con = connect(warehouse, read_only=True)
    try:
        for night, period in zip(NIGHTS, PERIODS, strict=True):
            report_dir = tmp_path / "reports" / night
            report = check_new_batches(con, night, report_dir)
            assert report.batches == (f"{PROGRAM}-{period}",)
            assert report.expectations > 0
            assert report.docs_index is not None and report.docs_index.name == "index.html"
            assert report.docs_index.is_file()
            assert report.docs_index.resolve().is_relative_to(report_dir.resolve())
            assert "<html" in report.docs_index.read_text(encoding="utf-8").lower()
        # a night that closes nothing has nothing to audit
        quiet = check_new_batches(con, "2025-05-20", tmp_path / "reports" / "quiet")
        assert quiet.batches == () and quiet.docs_index is None
        # the same closing night run again: its batches were audited by the first run
        again_dir = tmp_path / "reports" / "again"
        again = check_new_batches(con, NIGHTS[0], again_dir, known={f"{PROGRAM}-{PERIODS[0]}"})
        assert again.batches == () and again.docs_index is None and not again_dir.exists()
    finally:
        con.close()


def test_an_audit_project_left_half_written_by_a_killed_run_is_set_aside(
    warehouse: Path, tmp_path: Path
) -> None:
    """A run killed while GX wrote its project leaves an empty great_expectations.yml (seen by
    the SIGKILL property): the next run of that night audits from a new project and keeps the
    broken one aside."""
    report_dir = tmp_path / "reports" / NIGHTS[0]
    broken = report_dir / "gx"
    (broken / "expectations").mkdir(parents=True)
    (broken / "great_expectations.yml").write_text("")
    (broken / "expectations" / "payout_lines.json").write_text('{"name": "payout_li')
    con = connect(warehouse, read_only=True)
    try:
        report = check_new_batches(con, NIGHTS[0], report_dir)
    finally:
        con.close()
    assert report.batches == (f"{PROGRAM}-{PERIODS[0]}",)
    assert report.docs_index is not None and report.docs_index.is_file()
    assert (report_dir / "gx" / "great_expectations.yml").stat().st_size > 0
    aside = [path for path in report_dir.iterdir() if path.name.startswith("gx.earlier-")]
    assert len(aside) == 1
    assert (aside[0] / "great_expectations.yml").read_text() == ""


def test_a_payout_line_that_differs_from_its_batch_fails_the_audit(
    warehouse: Path, tmp_path: Path
) -> None:
    con = connect(warehouse)
    try:
        changed = con.execute(
            "update fct_payout_lines set amount_cents = amount_cents + 1 "
            "where batch_id = ? and partner_id = 'pt_mira'",
            [f"{PROGRAM}-2025-05"],
        ).fetchone()[0]
        assert changed == 1
        rebuild(con, "exp_payouts", "exports/exp_payouts.sql")
        message = failed_message(con, "2025-06-01", tmp_path / "reports")
        # the earlier batches are not this night's: their audit still passes
        assert check_new_batches(con, "2025-05-01", tmp_path / "april").batches
    finally:
        con.close()
    assert names_pair_equality(message), message
    assert "lines_total_cents" in message


# --- a run stopped before its commit -----------------------------------------------------------


def digest_tree(folder: Path) -> dict[str, tuple[str, int]]:
    return {
        str(path.relative_to(folder)): (
            hashlib.sha256(path.read_bytes()).hexdigest(),
            path.stat().st_mtime_ns,
        )
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def test_an_invalid_rules_folder_stops_the_run_and_changes_nothing(
    request, built: Path, example: Path, warehouse: Path, tmp_path: Path
) -> None:
    request.getfixturevalue("prefect_harness")
    from flows.nightly import nightly_settlement
    from partner_ledger.settle.night import working_copy_path

    rules = tmp_path / "rules"
    shutil.copytree(example / "rules", rules)
    with (rules / "rates.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["program_id", "tier", "phase", "rate_bps", "valid_from"]
    rows[2][3] = "-" + rows[2][3]  # a negative rate on data row 2
    with (rules / "rates.csv").open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle, lineterminator="\n").writerows(rows)

    # a new delivery, so that the run has something to write into its working copy
    landing = tmp_path / "landing"
    shutil.copytree(example / "landing", landing)
    (landing / "tracking" / "clicks" / "late.csv").write_text(
        "click_id,program_id,partner_code,occurred_at,visitor_id,landing_url\n"
        "clk_late,prog_lumen,mira,2025-06-10T10:00:00Z,v_late,https://ex.example/?aff=mira\n"
    )
    out = tmp_path / "out"
    shutil.copytree(built / "out" / "payouts", out / "payouts", copy_function=shutil.copy2)
    warehouse_before = hashlib.sha256(warehouse.read_bytes()).hexdigest()
    payouts_before = digest_tree(out / "payouts")

    with pytest.raises(Exception) as failure:
        nightly_settlement(
            as_of=date(2025, 7, 1),  # would close June
            landing=landing,
            rules=rules,
            warehouse=warehouse,
            out=out,
        )

    assert "rates.csv" in str(failure.value) and "rate_bps" in str(failure.value)
    assert hashlib.sha256(warehouse.read_bytes()).hexdigest() == warehouse_before
    assert not working_copy_path(warehouse).exists()
    assert digest_tree(out / "payouts") == payouts_before
    assert not (out / "payouts" / PROGRAM / "2025-06").exists()
    con = connect(warehouse, read_only=True)
    try:
        assert con.execute(
            "select count(*) from raw.load_manifest where path like '%late.csv'"
        ).fetchone() == (0,)
        assert con.execute("select max(period) from fct_payout_batches").fetchone() == ("2025-05",)
    finally:
        con.close()


def test_a_night_may_close_when_a_period_ended_since_the_last_close(
    warehouse: Path, tmp_path: Path
) -> None:
    """The guess that decides whether Great Expectations is imported beside the build: the
    example's last close is May 2025, so 2 June closes nothing and 1 July may close June; on a
    warehouse without a ledger (a first run, whose build holds the most memory) it says no."""
    from partner_ledger.settle.checks import may_close

    con = connect(warehouse, read_only=True)
    try:
        assert not may_close(con, "2025-06-02")
        assert not may_close(con, "2025-06-30")
        assert may_close(con, "2025-07-01")
    finally:
        con.close()
    empty = duckdb.connect(str(tmp_path / "empty.duckdb"))
    try:
        assert not may_close(empty, "2025-07-01")
    finally:
        empty.close()


def in_a_fresh_interpreter(code: str) -> str:
    """What `code` prints, run by a new Python process in the repository (nothing imported)."""
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_the_prefetch_imports_great_expectations() -> None:
    """In a fresh interpreter: the thread leaves the package imported, as the audit needs it."""
    printed = in_a_fresh_interpreter(
        "import sys\n"
        "from partner_ledger.settle.checks import prefetch_great_expectations\n"
        "assert 'great_expectations' not in sys.modules\n"
        "prefetch_great_expectations().join()\n"
        "print('great_expectations' in sys.modules)\n"
    )
    assert printed.strip() == "True"


def test_the_audit_leaves_the_modules_gx_imports_for_unused_checks_unloaded(
    warehouse: Path, tmp_path: Path
) -> None:
    """In a fresh interpreter: the audit of a closing night (its expectations and data docs)
    never executes scipy.stats, which Great Expectations imports for checks the audit does not
    make (about 0.9 CPU-s); the module still loads when it is first used."""
    printed = in_a_fresh_interpreter(
        "import sys, types\n"
        "from pathlib import Path\n"
        "from partner_ledger.io.warehouse import connect\n"
        "from partner_ledger.settle.checks import check_new_batches\n"
        f"con = connect(Path({str(warehouse)!r}), read_only=True)\n"
        f"report = check_new_batches(con, {NIGHTS[1]!r}, Path({str(tmp_path / 'reports')!r}))\n"
        "assert report.batches and report.docs_index.is_file(), report\n"
        "print(type(sys.modules['scipy.stats']) is types.ModuleType)\n"
        "from scipy import stats\n"
        "print(stats.norm.cdf(0.0), type(sys.modules['scipy.stats']) is types.ModuleType)\n"
    )
    assert printed.split() == ["False", "0.5", "True"], printed
