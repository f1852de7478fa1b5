"""Publishing is part of the commit (issue 16; docs/decisions/0014, 0016).

The worked example with hostile partner rows (a control character in a sepa partner's name,
formulas in names and accounts) is run for the night that closes March 2025, by real nightly
flow runs. First the payout folder cannot be written (its program folder is taken by a file):
the run fails and commits nothing. Once the folder is free, the same night commits and publishes
a schema-valid sepa.xml with the name cleaned, and CSV cells that a spreadsheet cannot evaluate,
while Parquet keeps the values as delivered.
"""

from __future__ import annotations

import csv
import io
import shutil
import stat
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from flows.nightly import nightly_settlement
from partner_ledger.publish.formula import csv_cell
from partner_ledger.settle.dbt import PROJECT_DIR
from partner_ledger.settle.night import ledger_state

PROGRAM = "prog_lumen"
NIGHT = date(2025, 4, 1)
NS = {"p": "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"}
HOSTILE = {
    # partner_id: {column: value}
    "pt_mira": {"name": "Mira\x01 Costa\x0b"},
    "pt_olga": {
        "name": "@SUM(1)",
        "email": '=HYPERLINK("http://evil.example","x")',
        "payout_account": "+cmd@evil.example",
    },
}


def hostile_landing(example: Path, target: Path) -> Path:
    shutil.copytree(example / "landing", target)
    path = next((target / "tracking" / "partners").glob("*.csv"))
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        row.update(HOSTILE.get(row["partner_id"], {}))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")
    return target


@pytest.fixture(scope="module")
def hostile_run(prefect_harness, example: Path, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("publish_in_commit")
    landing = hostile_landing(example, root / "landing")
    warehouse = root / "warehouse" / "example.duckdb"
    out = root / "out"
    blocker = out / "payouts" / PROGRAM
    blocker.parent.mkdir(parents=True)
    blocker.write_text("not a folder\n")

    def night() -> dict:
        return nightly_settlement(
            as_of=NIGHT, landing=landing, rules=example / "rules", warehouse=warehouse, out=out
        )

    project_log = PROJECT_DIR / "logs" / "dbt.log"
    project_log_before = project_log.stat().st_mtime_ns if project_log.exists() else None
    with pytest.raises(Exception) as failed:
        night()
    state_after_failure = ledger_state(warehouse)
    leftovers = sorted(str(p.relative_to(out / "payouts")) for p in (out / "payouts").rglob("*"))
    blocker.unlink()
    summary = night()
    return {
        "error": str(failed.value),
        "state_after_failure": state_after_failure,
        "leftovers": leftovers,
        "summary": summary,
        "folder": out / "payouts" / PROGRAM / "2025-03",
        "warehouse": warehouse,
        "project_log": (project_log_before, project_log),
    }


def test_a_batch_whose_files_cannot_be_written_commits_nothing(hostile_run: dict) -> None:
    assert f"{PROGRAM}-2025-03" in hostile_run["error"]
    assert hostile_run["state_after_failure"] == (0, set(), set())
    assert hostile_run["leftovers"] == [PROGRAM]  # the blocking file only: nothing staged left


def test_the_next_run_commits_and_publishes_the_batch(hostile_run: dict) -> None:
    summary = hostile_run["summary"]
    assert summary["batches_closed"] == [f"{PROGRAM}-2025-03"]
    assert summary["batches_published"] == [f"{PROGRAM}-2025-03"]
    folder = hostile_run["folder"]
    assert sorted(p.name for p in folder.parent.iterdir()) == ["2025-03"]  # no staging left
    assert {p.name for p in folder.iterdir()} == {
        "manifest.json",
        "payouts.csv",
        "payouts.parquet",
        "sepa.xml",
        "statements.csv",
        "statement-pt_mira.html",
        "statement-pt_noah.html",
        "statement-pt_olga.html",
        "wise_batch.csv",
    }


def test_sepa_xml_is_schema_valid_with_the_control_characters_cleaned(hostile_run: dict) -> None:
    import sepaxml
    import xmlschema

    sepa = hostile_run["folder"] / "sepa.xml"
    xsd = Path(sepaxml.__file__).parent / "schemas" / "pain.001.001.03.xsd"
    xmlschema.XMLSchema(str(xsd)).validate(str(sepa))
    names = [e.text for e in ET.parse(sepa).getroot().findall(".//p:Cdtr/p:Nm", NS)]
    assert names == ["Mira Costa"]


def test_csv_cells_are_neutralised_and_parquet_keeps_the_values(hostile_run: dict) -> None:
    folder = hostile_run["folder"]
    with (folder / "payouts.csv").open(newline="", encoding="utf-8") as handle:
        csv_rows = {row["partner_id"]: row for row in csv.DictReader(handle)}
    parquet_rows = {
        row["partner_id"]: row for row in pq.read_table(folder / "payouts.parquet").to_pylist()
    }
    assert set(csv_rows) == set(parquet_rows) and "pt_olga" in csv_rows
    renamed = {"name": "partner_name", "email": "partner_email"}
    for partner_id, columns in HOSTILE.items():
        if partner_id not in csv_rows:
            continue
        for delivered, value in columns.items():
            column = renamed.get(delivered, delivered)
            assert parquet_rows[partner_id][column] == value
            expected = value if partner_id == "pt_mira" else "'" + value
            assert csv_rows[partner_id][column] == expected, (partner_id, column)
    for row in csv_rows.values():  # amounts stay numbers
        assert not row["amount"].startswith("'") and not row["amount_cents"].startswith("'")


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+2", "'=1+2"),
        ("+cmd", "'+cmd"),
        ("-2+3", "'-2+3"),
        ("@SUM(1)", "'@SUM(1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-12.50", "-12.50"),  # a plain number is read as the same number
        ("-3587", "-3587"),
        (-3587, -3587),
        ("Mira", "Mira"),
        ("a=b", "a=b"),
        (None, ""),
    ],
)
def test_csv_cell(value: object, cell: object) -> None:
    assert csv_cell(value) == cell


def test_warehouse_is_owner_only_and_dbt_logs_beside_it(hostile_run: dict) -> None:
    warehouse = hostile_run["warehouse"]
    assert stat.S_IMODE(warehouse.stat().st_mode) == 0o600
    assert stat.S_IMODE(warehouse.parent.stat().st_mode) == 0o700
    logs = warehouse.parent / "dbt_logs"
    assert stat.S_IMODE(logs.stat().st_mode) == 0o700
    assert (logs / "dbt.log").stat().st_size > 0
    before, project_log = hostile_run["project_log"]
    after = project_log.stat().st_mtime_ns if project_log.exists() else None
    assert after == before, "dbt wrote its log into the project folder"
