"""A lost warehouse is rebuilt from the landing and the published batches (issue 16;
docs/decisions/0017).

The worked example's three closing nights published March, April and May 2025. The warehouse
is then lost and a late March adjustment arrives. A run refuses to start afresh (it would pay
the published batches again) and names the rebuild command, for a missing warehouse and for
one that cannot be opened. The rebuild restores the published batches as they were paid: the
rebuilt warehouse renders every published file byte for byte, its payout entries equal the
files, no published batch is closed again, and the late adjustment settles at the next close.
"""

from __future__ import annotations

import csv
import json
import shutil
from datetime import date
from pathlib import Path

import pytest

from flows.nightly import nightly_settlement, rebuild_warehouse
from partner_ledger.io.warehouse import connect
from partner_ledger.publish.payout_files import closed_batches, render_batch
from partner_ledger.settle.rebuild import WarehouseUnavailable
from tests.conftest import digest_tree

PROGRAM = "prog_lumen"
PUBLISHED = ("2025-03", "2025-04", "2025-05")
LATE = "adj_late,prog_lumen,pt_mira,3000,2025-03-20T12:00:00Z,late March correction\n"


@pytest.fixture(scope="module")
def lost(example_three_nights: Path, example: Path, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("rebuild")
    shutil.copytree(example_three_nights / "out" / "payouts", root / "out" / "payouts")
    landing = root / "landing"
    shutil.copytree(example / "landing", landing)
    header = "adjustment_id,program_id,partner_id,amount_cents,effective_at,reason\n"
    (landing / "tracking" / "adjustments" / "late.csv").write_text(header + LATE)
    paths = {
        "landing": landing,
        "rules": example / "rules",
        "warehouse": root / "warehouse" / "example.duckdb",
        "out": root / "out",
    }
    return {"root": root, "paths": paths, "published": digest_tree(root / "out" / "payouts")}


@pytest.fixture(scope="module")
def rebuilt(lost: dict) -> dict:
    paths = lost["paths"]
    warehouse = paths["warehouse"]
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    warehouse.write_bytes(b"\0" * 8192)  # a zeroed file: not a DuckDB database
    summary = rebuild_warehouse(as_of=date(2025, 6, 2), **paths)
    return {
        "summary": summary,
        "moved_aside": warehouse.with_name(f"{warehouse.name}.unreadable-2025-06-02"),
    }


def test_a_run_without_its_warehouse_stops_and_names_the_rebuild(
    prefect_harness, lost: dict
) -> None:
    with pytest.raises(WarehouseUnavailable) as caught:
        nightly_settlement(as_of=date(2025, 6, 3), **lost["paths"])
    message = str(caught.value)
    assert "does not exist, but 3 payout batch(es) were published" in message
    assert "partner-ledger rebuild --as-of" in message
    assert not lost["paths"]["warehouse"].exists()


def test_a_run_with_an_unreadable_warehouse_stops_and_names_the_rebuild(
    prefect_harness, lost: dict, tmp_path: Path
) -> None:
    paths = {**lost["paths"], "warehouse": tmp_path / "zeroed.duckdb"}
    paths["warehouse"].write_bytes(b"\0" * 8192)
    with pytest.raises(WarehouseUnavailable) as caught:
        nightly_settlement(as_of=date(2025, 6, 3), **paths)
    assert "cannot be opened" in str(caught.value)
    assert "partner-ledger rebuild --as-of" in str(caught.value)


def test_the_rebuild_restores_the_published_batches_byte_for_byte(
    lost: dict, rebuilt: dict
) -> None:
    summary = rebuilt["summary"]
    assert summary["batches_closed"] == [] and summary["batches_published"] == []
    assert rebuilt["moved_aside"].read_bytes() == b"\0" * 8192  # kept, never deleted
    out = lost["paths"]["out"]
    con = connect(lost["paths"]["warehouse"], read_only=True)
    try:
        batches = closed_batches(con)
        assert [b.batch_id for b in batches] == [f"{PROGRAM}-{p}" for p in PUBLISHED]
        for batch in batches:
            folder = out / "payouts" / PROGRAM / batch.period
            files = render_batch(con, batch)
            assert sorted(files) == sorted(p.name for p in folder.iterdir())
            for name, content in files.items():
                if name.startswith("statement-") or name == "manifest.json":
                    continue  # below
                assert content == (folder / name).read_bytes(), f"{batch.batch_id} {name}"
            # The HTML statements list the ledger entries behind each line, and a rebuilt ledger
            # records the earlier history on the rebuild's night, not per published close: the
            # published statements stay as they were (the tree digest below); every money file
            # and every other field of the manifest renders again byte for byte.
            rendered = json.loads(files["manifest.json"])
            published = json.loads((folder / "manifest.json").read_text())
            for manifest in (rendered, published):
                manifest["files"] = {
                    name: sha
                    for name, sha in manifest["files"].items()
                    if not name.startswith("statement-")
                }
            assert rendered == published, batch.batch_id
            with (folder / "payouts.csv").open(newline="", encoding="utf-8") as handle:
                paid = {
                    row["partner_id"]: -int(row["amount_cents"]) for row in csv.DictReader(handle)
                }
            entries = dict(
                con.execute(
                    "select partner_id, amount_cents from fct_ledger_entries "
                    "where entry_type = 'payout' and batch_id = ?",
                    [batch.batch_id],
                ).fetchall()
            )
            assert entries == paid, batch.batch_id
    finally:
        con.close()
    assert digest_tree(out / "payouts") == lost["published"]


def test_the_late_adjustment_settles_at_the_next_close(lost: dict, rebuilt: dict) -> None:
    summary = nightly_settlement(as_of=date(2025, 7, 1), **lost["paths"])
    assert summary["batches_closed"] == [f"{PROGRAM}-2025-06"]
    out = lost["paths"]["out"] / "payouts" / PROGRAM
    published_now = digest_tree(lost["paths"]["out"] / "payouts")
    assert {k: v for k, v in published_now.items() if not k.startswith(f"{PROGRAM}/2025-06")} == (
        lost["published"]
    )
    with (out / "2025-05" / "statements.csv").open(newline="", encoding="utf-8") as handle:
        may = {row["partner_id"]: row for row in csv.DictReader(handle)}
    with (out / "2025-06" / "statements.csv").open(newline="", encoding="utf-8") as handle:
        june = {row["partner_id"]: row for row in csv.DictReader(handle)}
    mira = june["pt_mira"]
    assert int(mira["adjustment_cents"]) == 3000
    for partner_id, row in june.items():  # the chain goes on from the published closing balances
        opening = int(may[partner_id]["closing_balance_cents"]) if partner_id in may else 0
        assert int(row["opening_balance_cents"]) == opening, partner_id
