"""The worked example (shared/examples/three_partners) end to end, as real nightly flow runs.

Every night of run_dates.txt is a Prefect flow run against one warehouse; the payout folders,
statements and ledger totals are compared with the hand-computed expectations field by field,
then the last night is run again and must append nothing and change no file.
"""

from __future__ import annotations

import hashlib
import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from flows.nightly import nightly_settlement
from tests.conftest import read_csv_rows

INTEGER_SUFFIX = "_cents"


def _night(example: Path, workdir: Path, night: str) -> dict:
    return nightly_settlement(
        as_of=date.fromisoformat(night),
        landing=example / "landing",
        rules=example / "rules",
        warehouse=workdir / "warehouse" / "example.duckdb",
        out=workdir / "out",
    )


def _digest_tree(folder: Path) -> dict[str, str]:
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


def _assert_rows_equal(actual: list[dict], expected: list[dict], where: str) -> None:
    assert [row["partner_id"] for row in actual] == [row["partner_id"] for row in expected], where
    for got, want in zip(actual, expected, strict=True):
        assert set(got) == set(want), f"{where}: columns differ"
        for column, value in want.items():
            if column.endswith(INTEGER_SUFFIX):
                assert int(got[column]) == int(value), f"{where} {want['partner_id']} {column}"
            elif column == "amount":
                assert got[column] == value, f"{where} amount string"
                assert Decimal(got[column]) == Decimal(value)
            else:
                assert got[column] == value, f"{where} {want['partner_id']} {column}"


@pytest.fixture(scope="module")
def example_run(example_every_night: Path, tmp_path_factory) -> Path:
    """A copy of the example run for every night of run_dates.txt (a test here runs a night
    again on it)."""
    workdir = tmp_path_factory.mktemp("three_partners")
    shutil.copytree(example_every_night, workdir, dirs_exist_ok=True)
    return workdir


def test_payout_folders_are_exactly_the_closed_months(example_run: Path) -> None:
    folders = sorted(p.name for p in (example_run / "out" / "payouts" / "prog_lumen").iterdir())
    assert folders == ["2025-03", "2025-04", "2025-05"]


@pytest.mark.parametrize("period", ["2025-03", "2025-04", "2025-05"])
@pytest.mark.parametrize("name", ["payouts.csv", "statements.csv"])
def test_files_match_hand_computed(
    example_run: Path, example: Path, period: str, name: str
) -> None:
    actual = read_csv_rows(example_run / "out" / "payouts" / "prog_lumen" / period / name)
    expected = read_csv_rows(example / "expected" / "payouts" / "prog_lumen" / period / name)
    _assert_rows_equal(actual, expected, f"{period}/{name}")


def test_ledger_totals_match(example_run: Path, example: Path) -> None:
    con = duckdb.connect(str(example_run / "warehouse" / "example.duckdb"), read_only=True)
    actual = {
        (partner, entry_type): int(total)
        for partner, entry_type, total in con.execute(
            "select partner_id, entry_type, sum(amount_cents) from fct_ledger_entries group by all"
        ).fetchall()
    }
    expected = {
        (row["partner_id"], row["entry_type"]): int(row["amount_cents"])
        for row in read_csv_rows(example / "expected" / "ledger_totals.csv")
    }
    assert actual == expected


def test_batch_folders_are_complete_and_private(example_run: Path) -> None:
    import json

    folder = example_run / "out" / "payouts" / "prog_lumen" / "2025-03"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["batch_id"] == "prog_lumen-2025-03"
    assert manifest["row_count"] == 2 and manifest["total_cents"] == 16887
    assert manifest["as_of"] == "2025-04-01" and manifest["currency"] == "EUR"
    # every other file of the folder is listed (SPEC §3.2): the SPEC files and the additions
    assert set(manifest["files"]) == {p.name for p in folder.iterdir()} - {"manifest.json"}
    assert {"payouts.csv", "payouts.parquet", "statements.csv", "sepa.xml"} <= set(
        manifest["files"]
    )
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
    assert (folder.stat().st_mode & 0o777) == 0o700
    assert all((path.stat().st_mode & 0o777) == 0o600 for path in folder.iterdir())
    sepa = (folder / "sepa.xml").read_text()
    assert "FR7630006000011234567890189" in sepa and "35.87" in sepa
    assert "noah.berg" not in sepa and "olga@" not in sepa


def test_rerunning_the_last_night_appends_nothing(example_run: Path, example: Path) -> None:
    warehouse = example_run / "warehouse" / "example.duckdb"
    con = duckdb.connect(str(warehouse), read_only=True)
    entries_before = con.execute("select count(*) from fct_ledger_entries").fetchone()[0]
    con.close()
    files_before = _digest_tree(example_run / "out" / "payouts")
    last = (example / "run_dates.txt").read_text().split()[-1]
    summary = _night(example, example_run, last)
    assert summary["ledger_entries_appended"] == 0
    assert summary["batches_closed"] == [] and summary["batches_published"] == []
    con = duckdb.connect(str(warehouse), read_only=True)
    assert con.execute("select count(*) from fct_ledger_entries").fetchone()[0] == entries_before
    con.close()
    assert _digest_tree(example_run / "out" / "payouts") == files_before


def test_attribution_trail_from_payout_to_touch(example_run: Path) -> None:
    con = duckdb.connect(str(example_run / "warehouse" / "example.duckdb"), read_only=True)
    winners = dict(
        ((customer, (source, touch, partner)))
        for customer, source, touch, partner in con.execute(
            "select customer_key, touch_source, touch_id, partner_id from fct_attributions "
            "where is_winner"
        ).fetchall()
    )
    assert winners["cust_bruno"] == ("lead_form", "lead_2001", "pt_noah")
    assert winners["cus_chloe"] == ("coupon", "OLGA20", "pt_olga")
    assert winners["cust_fumi"] == ("click", "clk_1007", "pt_mira")
    lost = dict(
        ((customer, touch), reason)
        for customer, touch, reason in con.execute(
            "select customer_key, touch_id, lost_reason from fct_attributions where not is_winner"
        ).fetchall()
    )
    assert lost[("cust_bruno", "clk_1002")] == "lower_priority_source"
    assert lost[("cust_gita", "clk_1008")] == "outside_window"
    assert lost[("cust_noah", "clk_1005")] == "self_referral"
    # every commission entry names the touch that earned it
    untraced = con.execute(
        "select count(*) from fct_ledger_entries where entry_type = 'commission' "
        "and (touch_id is null or touch_source is null)"
    ).fetchone()[0]
    assert untraced == 0


def test_run_summary_artifacts(example_run: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(
                key=ArtifactFilterKey(
                    any_=["run-payout-batches-2025-05-01", "run-settlement-2025-05-01"]
                )
            )
        )
    by_key = {artifact.key: artifact for artifact in artifacts}
    batches = str(by_key["run-payout-batches-2025-05-01"].data)
    assert "prog_lumen-2025-04" in batches and "payouts/prog_lumen/2025-04" in batches
    assert "negative_balance" in batches and "Data docs" in batches
    summary = str(by_key["run-settlement-2025-05-01"].data)
    assert "partners_paid" in summary
    # the artifacts carry ids, amounts and paths, never an email or an account
    for secret in ("@", "FR7630006000011234567890189"):
        assert secret not in batches and secret not in summary


def test_payout_line_traces_to_entries_events_and_touches(example_run: Path) -> None:
    """A payout line → the entries it paid → their paid events → the touch that won each
    customer, through the marts alone (fct_payout_lines, fct_ledger_entries, fct_paid_events,
    dim_customers, dim_partners): no settlement or attribution rule re-derived here."""
    con = duckdb.connect(str(example_run / "warehouse" / "example.duckdb"), read_only=True)
    line = con.execute(
        "select amount_cents from fct_payout_lines where batch_id = 'prog_lumen-2025-04' "
        "and partner_id = 'pt_mira'"
    ).fetchone()
    assert line == (12640,)
    entries = con.execute(
        "select entry_type, paid_event_type || ':' || paid_event_id, amount_cents "
        "from fct_ledger_entries where paid_batch_id = 'prog_lumen-2025-04' "
        "and partner_id = 'pt_mira' and entry_type != 'payout'"
    ).fetchall()
    assert sum(amount for _, _, amount in entries) == 12640
    assert sorted(entries) == [
        ("commission", "invoice:in_ada_04", 2000),
        ("commission", "invoice:in_fumi_04", 3500),
        ("commission", "sale:so_5003", 7000),
        ("referral_clawback", "invoice:in_bruno_03", -35),
        ("referral_commission", "invoice:in_bruno_03", 175),
    ]
    trail = con.execute(
        """
        select events.paid_event_key, events.customer_key, events.month_number,
            events.program_basis_cents, customers.winning_touch_source,
            customers.winning_touch_id, partners.partner_name
        from fct_ledger_entries as entries
        inner join fct_paid_events as events
            on entries.paid_event_type || ':' || entries.paid_event_id = events.paid_event_key
        inner join dim_customers as customers
            on events.program_id = customers.program_id
            and events.customer_key = customers.customer_key
        inner join dim_partners as partners
            on customers.partner_id = partners.partner_id
        where entries.paid_batch_id = 'prog_lumen-2025-04' and entries.partner_id = 'pt_mira'
            and entries.entry_type = 'commission'
        order by 1
        """
    ).fetchall()
    assert trail == [
        ("invoice:in_ada_04", "cust_ada", 2, 10000, "click", "clk_1001", "Mira Costa"),
        ("invoice:in_fumi_04", "cust_fumi", 1, 10000, "click", "clk_1007", "Mira Costa"),
        ("sale:so_5003", "cust_emil", 1, 20000, "click", "clk_1006", "Mira Costa"),
    ]
    # the other way: an entry settled by a close carried forward has no paid line yet
    olga = con.execute(
        "select settled_batch_id, paid_batch_id from fct_ledger_entries "
        "where partner_id = 'pt_olga' and entry_type = 'clawback'"
    ).fetchall()
    assert olga == [("prog_lumen-2025-04", None)]
    # every commission event names its partner; an unattributed customer's events earn nothing
    assert con.execute(
        "select count(*) from fct_paid_events where has_earned and partner_id is null"
    ).fetchone() == (0,)
    gita = con.execute(
        "select is_attributed, conversion_source from dim_customers where customer_key = 'cust_gita'"
    ).fetchone()
    assert gita == (False, "signup")
    tiers = dict(con.execute("select partner_id, tier from dim_partners").fetchall())
    assert tiers == {"pt_mira": "pro", "pt_noah": "standard", "pt_olga": "standard"}
