"""The PayPal and Wise upload files beside payouts.csv (issue 14), from the worked example run by
real nightly flows: each provider's column layout, one currency per file, and totals that match
the payout lines and the ledger's payout entries to the cent."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from partner_ledger.publish.formula import csv_cell
from partner_ledger.publish.rails import rail_files

PROGRAM = "prog_lumen"
PERIODS = ("2025-03", "2025-04", "2025-05")
WISE_HEADER = [
    "name",
    "recipientEmail",
    "paymentReference",
    "receiverType",
    "amountCurrency",
    "amount",
    "sourceCurrency",
    "targetCurrency",
]
AMOUNT = re.compile(r"\d+\.\d{2}")


def _rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def _ledger_paid(con: duckdb.DuckDBPyConnection, batch_id: str, method: str) -> int:
    """Cents paid to the partners of one method at one close, from the ledger's payout entries."""
    return con.execute(
        """
        select coalesce(-sum(entries.amount_cents), 0)
        from fct_ledger_entries as entries
        inner join fct_payout_lines as lines
            on entries.batch_id = lines.batch_id and entries.partner_id = lines.partner_id
        where entries.entry_type = 'payout' and lines.batch_id = ? and lines.payout_method = ?
        """,
        [batch_id, method],
    ).fetchone()[0]


@pytest.fixture(scope="module")
def built(example_three_nights: Path) -> tuple[Path, duckdb.DuckDBPyConnection]:
    con = duckdb.connect(str(example_three_nights / "warehouse" / "example.duckdb"), read_only=True)
    yield example_three_nights / "out" / "payouts" / PROGRAM, con
    con.close()


@pytest.mark.parametrize("period", PERIODS)
def test_paypal_file_layout_and_totals(built, period: str) -> None:
    payouts, con = built
    folder = payouts / period
    batch_id = f"{PROGRAM}-{period}"
    path = folder / "paypal_payouts.csv"
    expected_cents = _ledger_paid(con, batch_id, "paypal")
    if expected_cents == 0:
        assert not path.exists()
        return
    rows = _rows(path)
    # Payouts Web: no header; recipient, amount, currency, customer ID, note, wallet
    assert all(len(row) == 6 for row in rows)
    assert {row[2] for row in rows} == {"EUR"}
    assert {row[5] for row in rows} == {"PAYPAL"}
    assert all(AMOUNT.fullmatch(row[1]) for row in rows)
    assert len({row[3] for row in rows}) == len(rows)
    assert sum(Decimal(row[1]) * 100 for row in rows) == expected_cents
    lines = con.execute(
        "select payout_account, amount from fct_payout_lines "
        "where batch_id = ? and payout_method = 'paypal' order by partner_id",
        [batch_id],
    ).fetchall()
    assert [(row[0], row[1]) for row in rows] == lines


@pytest.mark.parametrize("period", PERIODS)
def test_wise_file_layout_and_totals(built, period: str) -> None:
    payouts, con = built
    folder = payouts / period
    batch_id = f"{PROGRAM}-{period}"
    path = folder / "wise_batch.csv"
    expected_cents = _ledger_paid(con, batch_id, "wise")
    if expected_cents == 0:
        assert not path.exists()
        return
    header, *rows = _rows(path)
    assert header == WISE_HEADER
    records = [dict(zip(header, row, strict=True)) for row in rows]
    assert {(r["sourceCurrency"], r["targetCurrency"]) for r in records} == {("EUR", "EUR")}
    assert {r["amountCurrency"] for r in records} == {"target"}
    assert {r["receiverType"] for r in records} <= {"PERSON", "BUSINESS"}
    assert all(AMOUNT.fullmatch(r["amount"]) for r in records)
    assert sum(Decimal(r["amount"]) * 100 for r in records) == expected_cents


def test_the_example_has_both_rails(built) -> None:
    """March pays Olga by Wise; April and May pay Noah by PayPal (the example's README)."""
    payouts, _ = built
    assert (payouts / "2025-03" / "wise_batch.csv").exists()
    assert not (payouts / "2025-03" / "paypal_payouts.csv").exists()
    assert _rows(payouts / "2025-04" / "paypal_payouts.csv") == [
        [
            "noah.berg@example.org",
            "45.47",
            "EUR",
            "prog_lumen-2025-04-pt_noah",
            "Partner payout prog_lumen-2025-04",
            "PAYPAL",
        ]
    ]
    wise = _rows(payouts / "2025-03" / "wise_batch.csv")[1]
    assert wise[:2] == ["Olga Ivanova", "olga@deal-digest.example"] and wise[5] == "133.00"


@pytest.mark.parametrize("period", PERIODS)
def test_rail_files_are_in_the_manifest_and_private(built, period: str) -> None:
    payouts, _ = built
    folder = payouts / period
    manifest = json.loads((folder / "manifest.json").read_text())
    for name in ("paypal_payouts.csv", "wise_batch.csv"):
        path = folder / name
        if path.exists():
            assert manifest["files"][name] == hashlib.sha256(path.read_bytes()).hexdigest()
            assert path.stat().st_mode & 0o777 == 0o600
        else:
            assert name not in manifest["files"]


def test_text_cells_never_run_as_formulas() -> None:
    line = {
        "partner_id": "pt_x",
        "partner_name": '=HYPERLINK("http://x.example","pay me")',
        "payout_method": "wise",
        "payout_account": "@evil",
        "amount": "12.30",
        "currency": "EUR",
    }
    files = rail_files("prog-2025-01", [line, {**line, "payout_method": "paypal"}])
    wise = _rows_from(files["wise_batch.csv"])[1]
    assert wise[0] == "'" + line["partner_name"] and wise[1] == "'@evil"
    assert wise[5] == "12.30"
    paypal = _rows_from(files["paypal_payouts.csv"])[0]
    assert paypal[0] == "'@evil" and paypal[1] == "12.30"
    # one rule for every CSV file (decision 0016): a plain number stays a number, other text
    # starting like a formula is made inert
    numbered = rail_files("prog-2025-01", [{**line, "partner_name": "-12.50"}])
    assert _rows_from(numbered["wise_batch.csv"])[1][0] == "-12.50"
    assert csv_cell("-1") == "-1" and csv_cell("-1+2") == "'-1+2" and csv_cell("Mira") == "Mira"


def _rows_from(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8"))))
