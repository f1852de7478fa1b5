"""Review before payment (issue 14): a batch that trips a threshold of review_rules.csv is held.

The worked example's rules plus a review_rules.csv, run for real as one nightly flow on
2025-05-01, which closes March and April. April settles clawbacks of 11,235 cents against
18,175 cents of commissions (more than the 0.5 allowed), and pays Mira 12,640 cents against a
March line of 3,587 (more than 3×): April is held_for_review, its files are only in the review
folder, and neither the same night run again nor a later publish writes its payment folder.
`partner-ledger approve` then publishes it, byte for byte what was reviewed and field for field
the example's expected April, and records who approved it and when. A program without
review_rules.csv is the worked example itself (tests/test_example_e2e.py, unchanged).
"""

from __future__ import annotations

import json
import shutil
import stat
from datetime import date
from pathlib import Path

import pytest

from flows.nightly import nightly_settlement
from partner_ledger.cli import main, summary_line
from partner_ledger.io.warehouse import connect
from partner_ledger.publish.payout_files import publish_missing
from partner_ledger.rules.validate import RulesError, validate_rules
from tests.conftest import read_csv_rows

PROGRAM = "prog_lumen"
REVIEW_RULES = (
    "program_id,check,max_ratio,trailing_months\n"
    "prog_lumen,batch_total,3,3\n"
    "prog_lumen,partner_line,3,3\n"
    "prog_lumen,quarantine_share,0.5,\n"
    "prog_lumen,clawback_rate,0.5,\n"
)


def _tree(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def reviewed(prefect_harness, example: Path, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("review")
    rules = root / "rules"
    shutil.copytree(example / "rules", rules)
    (rules / "review_rules.csv").write_text(REVIEW_RULES)
    paths = {
        "landing": example / "landing",
        "rules": rules,
        "warehouse": root / "warehouse" / "example.duckdb",
        "out": root / "out",
    }
    summary = nightly_settlement(as_of=date(2025, 5, 1), **paths)
    return {"root": root, "summary": summary, **paths}


def test_a_batch_that_trips_a_threshold_is_held_with_its_files_in_review(reviewed: dict) -> None:
    payouts = reviewed["out"] / "payouts" / PROGRAM
    assert reviewed["summary"]["batches_closed"] == [f"{PROGRAM}-2025-03", f"{PROGRAM}-2025-04"]
    # March trips nothing (no history; no clawback): published as today
    assert reviewed["summary"]["batches_published"] == [f"{PROGRAM}-2025-03"]
    assert reviewed["summary"]["batches_held"] == [f"{PROGRAM}-2025-04"]
    assert "held for review: prog_lumen-2025-04;" in summary_line(reviewed["summary"])
    assert (payouts / "2025-03" / "payouts.csv").is_file()
    assert not (payouts / "2025-04").exists()
    held = payouts / "review" / "2025-04"
    assert stat.S_IMODE(held.stat().st_mode) == 0o700
    manifest = json.loads((held / "manifest.json").read_text())
    assert manifest["batch_id"] == f"{PROGRAM}-2025-04" and manifest["total_cents"] == 17187
    note = json.loads((held / "review.json").read_text())
    assert note["status"] == "held_for_review"
    tripped = {(row["check"], row["partner_id"]): row for row in note["findings"]}
    assert set(tripped) == {("clawback_rate", None), ("partner_line", "pt_mira")}
    assert tripped["clawback_rate", None]["observed"] == 11235
    assert tripped["clawback_rate", None]["limit"] == 9087  # floor(0.5 × 18,175)
    assert tripped["partner_line", "pt_mira"] == {
        "batch_id": f"{PROGRAM}-2025-04",
        "check": "partner_line",
        "partner_id": "pt_mira",
        "observed": 12640,
        "limit": 10761,  # floor(3 × 3,587)
        "compared_with": "3 × median 3587 of 1 paid line(s) 2025-01..2025-03",
    }
    con = connect(reviewed["warehouse"], read_only=True)
    try:
        rows = con.execute(
            "select batch_id, status, held_as_of, approved_by from ops.batch_reviews"
        ).fetchall()
        # still closed in the ledger: the payout entries are booked
        booked = con.execute(
            "select -sum(amount_cents) from fct_ledger_entries where batch_id = ?",
            [f"{PROGRAM}-2025-04"],
        ).fetchone()[0]
    finally:
        con.close()
    assert rows == [(f"{PROGRAM}-2025-04", "held_for_review", date(2025, 5, 1), None)]
    assert booked == 17187
    # GX's suite review_thresholds judged the rows; the audit page opens offline
    page = Path(reviewed["summary"]["data_docs"])
    assert page.name == "index.html"
    html = page.read_text(encoding="utf-8")
    assert "Held for review: prog_lumen-2025-04" in html and "review_thresholds" in html
    assert "3 × median 3587 of 1 paid line(s) 2025-01..2025-03" in html
    assert "<script" not in html and "src=" not in html and "<link" not in html
    assert "ExpectCompoundColumnsToBeUnique" not in html  # dbt's unique_combination holds it


def test_a_held_batch_is_not_published_by_a_later_run(reviewed: dict) -> None:
    payouts = reviewed["out"] / "payouts" / PROGRAM
    before = _tree(payouts)
    again = nightly_settlement(
        as_of=date(2025, 5, 1), **{k: reviewed[k] for k in ("landing", "rules", "warehouse", "out")}
    )
    assert again["batches_closed"] == [] and again["batches_published"] == []
    con = connect(reviewed["warehouse"], read_only=True)
    try:
        assert publish_missing(con, reviewed["out"]) == []
    finally:
        con.close()
    assert _tree(payouts) == before
    assert not (payouts / "2025-04").exists()


def test_approve_publishes_the_reviewed_files_and_records_who_and_when(
    reviewed: dict, example: Path, capsys
) -> None:
    # runs after the two tests above (file order): the batch is still held here
    payouts = reviewed["out"] / "payouts" / PROGRAM
    reviewed_files = _tree(payouts / "review" / "2025-04")
    options = ["--warehouse", str(reviewed["warehouse"]), "--out", str(reviewed["out"])]
    assert main(["approve", f"{PROGRAM}-2025-04", "--by", "Ada Finance", *options]) == 0
    assert "approved and published" in capsys.readouterr().out
    published = _tree(payouts / "2025-04")
    del reviewed_files["review.json"]
    assert published == reviewed_files
    assert not (payouts / "review").exists()
    expected = example / "expected" / "payouts" / PROGRAM / "2025-04"
    for name in ("payouts.csv", "statements.csv"):
        assert read_csv_rows(payouts / "2025-04" / name) == read_csv_rows(expected / name)
    con = connect(reviewed["warehouse"], read_only=True)
    try:
        status, by, at = con.execute(
            "select status, approved_by, approved_at from ops.batch_reviews where batch_id = ?",
            [f"{PROGRAM}-2025-04"],
        ).fetchone()
    finally:
        con.close()
    assert (status, by) == ("approved", "Ada Finance") and at is not None
    # once approved: not again, and a batch never held cannot be approved
    assert main(["approve", f"{PROGRAM}-2025-04", "--by", "Ada Finance", *options]) == 1
    assert "already approved" in capsys.readouterr().err
    assert main(["approve", f"{PROGRAM}-2025-03", "--by", "Ada Finance", *options]) == 1
    assert "not held for review" in capsys.readouterr().err


def test_review_rules_are_validated_with_file_and_line(example: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(example / "rules", rules)
    (rules / "review_rules.csv").write_text(
        "program_id,check,max_ratio,trailing_months\n"
        "prog_lumen,batch_total,3,\n"
        "prog_nope,clawback_rate,0.5,\n"
        "prog_lumen,clawback_rate,0,\n"
        "prog_lumen,clawback_rate,0.2,6\n"
        "prog_lumen,median_of_everything,3,3\n"
    )
    with pytest.raises(RulesError) as caught:
        validate_rules(rules)
    assert [str(problem) for problem in caught.value.problems] == [
        "review_rules.csv line 2: trailing_months is empty; expected a whole number 1..120",
        "review_rules.csv line 3: program_id 'prog_nope' is not a program of programs.csv",
        "review_rules.csv line 4: max_ratio 0 is not greater than 0; expected a plain decimal "
        "number greater than 0, such as 0.92",
        "review_rules.csv line 5: trailing_months '6' is set for check clawback_rate; expected "
        "it empty (only batch_total and partner_line compare with trailing months)",
        "review_rules.csv line 5: check clawback_rate of program prog_lumen is already set at "
        "line 4; expected one threshold per program and check",
        "review_rules.csv line 6: check 'median_of_everything' is not allowed; expected one of "
        "batch_total, partner_line, quarantine_share, clawback_rate",
    ]
