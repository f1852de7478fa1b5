"""Hostile landing files never stop a night (issue 16; docs/decisions/0015).

A seeded generator writes, for every tracking table and every Stripe object, a file of
FUZZ_ROWS hostile lines: invalid UTF-8 anywhere in a line, stray and unbalanced quotes, NUL
bytes, BOMs, CRLF and lone CR line ends, 1 MB fields, missing and extra fields, control
characters, formulas, giant numbers, dates of year 1 and 9999, path-like ids. Every generated line
carries a marker `#<n>#`, so that each line can be found again: loaded, or quarantined with its
raw text. Ingestion must not fail, must account for every line, and a real nightly flow run over
the worked example plus these files must complete, with amounts and dates out of bounds
quarantined with their reasons.

`PARTNER_LEDGER_FUZZ_ROWS` sets the lines per file (default 10,500: over 10,000 rows read per file, blank lines aside) and
`PARTNER_LEDGER_FUZZ_SEED` the seed.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from flows.nightly import nightly_settlement
from partner_ledger.io.ingest import ingest_landing
from partner_ledger.io.warehouse import STRIPE_OBJECTS, TRACKING_COLUMNS, connect

FUZZ_ROWS = int(os.environ.get("PARTNER_LEDGER_FUZZ_ROWS", "10500"))
FUZZ_SEED = int(os.environ.get("PARTNER_LEDGER_FUZZ_SEED", "20250401"))
BIG_FIELDS_PER_FILE = 3  # 1 MB fields: a few per file keep the files small enough for CI
MB = 1 << 20
MARKER = re.compile(r"#(\d+)#")

HOSTILE_TEXT = [
    '=HYPERLINK("http://evil.example","x")',
    "+cmd",
    "@SUM(1)",
    "\x00",
    "\ufeff",
    "\x01\x0b\x7f\x85",
    "é😀",
    "'",
    ",",
    '"',
    'a"b',
    "\r",
    "\n",
    "\t",
    " ",
    "",
    "9" * 25,
    "-1",
    "0",
    "1e400",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "2025-02-30T00:00:00Z",
    "..",
    "../x",
    "a/b",
    "x" * 300,
]
TIMES = [
    "2025-03-05T10:00:00Z",
    "2025-03-01",
    "0001-01-01T00:00:00Z",
    "1999-12-31T23:59:59Z",
    "2999-06-01T00:00:00Z",
    "9999-12-31T00:00:00+14:00",
    "2025-13-45T99:99:99Z",
]
AMOUNTS = [
    "100",
    "999999999999999999",
    "1000000000000",
    "1000000000001",
    "-5",
    "0",
    "12.5",
    "99999999999999999999999",
]


def _field(rng: random.Random, column: str, i: int) -> str:
    if rng.random() < 0.5:
        return rng.choice(HOSTILE_TEXT)
    if column.endswith("_at"):
        return rng.choice(TIMES)
    if column == "amount_cents":
        return rng.choice(AMOUNTS)
    if column == "program_id":
        return rng.choice(["prog_lumen", "prog_lumen", "p" * 300, "../etc", ""])
    return f"v{i}"


def _quoted(rng: random.Random, value: str) -> str:
    if any(ch in value for ch in ',"\r\n') or rng.random() < 0.1:
        return '"' + value.replace('"', '""') + '"'
    return value


def hostile_tracking(rng: random.Random, columns: list[str], rows: int) -> tuple[bytes, set[int]]:
    """A tracking file of `rows` hostile lines; returns it and the markers it must account for
    (a blank line is no record)."""
    lines = [b"\xef\xbb\xbf" + ",".join(columns).encode() + b"\r\n"]
    expected: set[int] = set()
    big = BIG_FIELDS_PER_FILE
    for i in range(rows):
        fields = [_field(rng, column, i) for column in columns]
        fields[0] = f"#{i}#" + (fields[0] if rng.random() < 0.2 else "")
        text = ",".join(_quoted(rng, value) for value in fields).encode("utf-8")
        kind = rng.random()
        if kind < 0.05:
            text += b"\xff\xfe"  # invalid UTF-8
        elif kind < 0.08:
            cut = text.index(f"#{i}#".encode()) + len(f"#{i}#")
            text = text[:cut] + b"\xc3" + text[cut:]  # a cut multi-byte character mid-line
        elif kind < 0.13:
            text = text.replace(b",", b',"', 1)  # an unbalanced quote
        elif kind < 0.16:
            text = text.replace(b",", b',ab"c', 1)  # a stray quote inside a field
        elif kind < 0.19:
            text += b"\x00"
        elif kind < 0.22:
            text = b"\xef\xbb\xbf" + text  # a BOM mid-file
        elif kind < 0.24 and big > 0:
            big -= 1
            text += b"," + b"z" * MB  # a 1 MB field, one too many
        elif kind < 0.26 and big > 0:
            big -= 1
            head, _, rest = text.partition(b",")
            text = head + b',"' + b"y" * MB + b'"' + (b"," + rest.partition(b",")[2])
        elif kind < 0.31:
            text = text.rsplit(b",", 1)[0]  # a field missing
        elif kind < 0.34:
            text = b""  # a blank line
        if text:
            expected.add(i)
        roll = rng.random()
        lines.append(text + (b"\r\n" if roll < 0.3 else b"\r" if roll < 0.32 else b"\n"))
    return b"".join(lines), expected


def hostile_stripe(rng: random.Random, obj: str, rows: int) -> tuple[bytes, set[int]]:
    lines = []
    expected: set[int] = set()
    for i in range(rows):
        body = {
            "id": f"#{i}#",
            "object": obj[:-1],
            "created": rng.choice([1741168800, -62135596800, 253402300799, 10**15, 10**20, "x"]),
            "amount": rng.choice([100, 10**12 + 1, 10**30, -1, "100", None]),
            "amount_paid": rng.choice([500, 10**13, 10**19, -3, None]),
            "tax": rng.choice([0, -(10**15), None]),
            "currency": rng.choice(["eur", "usd", "xyz", None, 3]),
            "status": rng.choice(["paid", "succeeded", "lost", "failed", None]),
            "paid": rng.choice([True, False, "yes"]),
            "charge": rng.choice([f"#{max(i - 1, 0)}#", None, {"id": "#1#"}]),
            "customer": rng.choice(["#2#", None, 5]),
            "invoice": rng.choice([None, "#3#", ""]),
            "email": rng.choice(["a@b.example", "\x00", "=1+2", None]),
            "status_transitions": rng.choice([{"paid_at": 1741168800}, {"paid_at": 10**15}, "x"]),
            "metadata": rng.choice([{}, {"program_id": "prog_lumen"}, {"program_id": "../x"}, []]),
        }
        kind = rng.random()
        if kind < 0.05:
            text = b"\xff\xfe{" + f"#{i}#".encode()
        elif kind < 0.10:
            text = json.dumps([1, f"#{i}#"]).encode()
        elif kind < 0.15:
            text = json.dumps({"no_id": f"#{i}#"}).encode()
        elif kind < 0.20:
            text = json.dumps(body).encode()[:-3]  # cut short
        elif kind < 0.23:
            text = b""
        elif kind < 0.26:
            text = json.dumps(body).encode() + b"\x00"
        elif kind < 0.27 and i % 2000 == 0:
            text = json.dumps({**body, "pad": "p" * MB}).encode()
        elif kind < 0.30:
            text = b"\xef\xbb\xbf" + json.dumps(body).encode()
        elif kind < 0.33:
            text = json.dumps({**body, "id": "", "note": f"#{i}#"}).encode()
        elif kind < 0.36:
            text = json.dumps({**body, "id": f"#{i}#\u0000\u202e"}, ensure_ascii=False).encode()
        elif kind < 0.38:
            text = json.dumps({**body, "id": f"#{i}#"}).encode()[:-1] + b', "x": "\\ud800"}'
        elif kind < 0.40:
            text = json.dumps({**body, "id": f"#{i}#"}).encode().replace(b'#"', b'#\\udc80"', 1)
        else:
            text = json.dumps(body, ensure_ascii=rng.random() < 0.5).encode()
        if text.strip():
            expected.add(i)
        lines.append(text + (b"\r\n" if rng.random() < 0.3 else b"\n"))
    return b"".join(lines), expected


def write_hostile_landing(landing: Path, rows: int, seed: int) -> dict[str, set[int]]:
    """Hostile files beside whatever the landing holds; returns each file's expected markers."""
    rng = random.Random(seed)
    expected: dict[str, set[int]] = {}
    for table, columns in TRACKING_COLUMNS.items():
        folder = landing / "tracking" / table
        folder.mkdir(parents=True, exist_ok=True)
        content, markers = hostile_tracking(rng, columns, rows)
        (folder / "zz_hostile.csv").write_bytes(content)
        expected[f"tracking/{table}/zz_hostile.csv"] = markers
    folder = landing / "stripe"
    folder.mkdir(parents=True, exist_ok=True)
    for obj in STRIPE_OBJECTS:
        content, markers = hostile_stripe(rng, obj, rows)
        path = folder / f"{obj}.jsonl"
        before = path.read_bytes() if path.exists() else b""
        if before and not before.endswith(b"\n"):
            before += b"\n"
        path.write_bytes(before + content)
        expected[f"stripe/{obj}.jsonl"] = markers
    return expected


def accounted_markers(con: duckdb.DuckDBPyConnection, path: str) -> tuple[int, int, int, set]:
    """For one delivered file: manifest rows read, rows loaded, rows rejected, and the markers
    found in its loaded rows and quarantined raw text."""
    seq, table, rows_read, rows_loaded, rows_rejected = con.execute(
        "select delivery_seq, table_name, rows_read, rows_loaded, rows_rejected "
        "from raw.load_manifest where path = ?",
        [path],
    ).fetchone()
    if path.startswith("tracking/"):
        # a quoted field may legitimately hold the text of the next line: every column counts
        columns = ", ".join(f"coalesce({name}, '')" for name in TRACKING_COLUMNS[table])
        loaded = con.execute(
            f"select concat_ws('|', {columns}) from raw.tracking_{table} where delivery_seq = ?",
            [seq],
        ).fetchall()
    else:
        loaded = con.execute(
            "select body from raw.stripe_objects where delivery_seq = ?", [seq]
        ).fetchall()
    rejected = con.execute(
        "select coalesce(raw_text, '') from raw.ingest_rejects where delivery_seq = ?", [seq]
    ).fetchall()
    assert rows_loaded == len(loaded) and rows_rejected == len(rejected), path
    assert rows_read == rows_loaded + rows_rejected, path
    markers = {int(m) for (text,) in loaded + rejected for m in MARKER.findall(str(text))}
    return rows_read, len(loaded), len(rejected), markers


def test_hostile_files_are_ingested_line_by_line_without_a_failure(tmp_path: Path) -> None:
    expected = write_hostile_landing(tmp_path / "landing", FUZZ_ROWS, FUZZ_SEED)
    con = connect(tmp_path / "warehouse" / "fuzz.duckdb")
    try:
        summary = ingest_landing(con, tmp_path / "landing")
        assert sorted(load.path for load in summary.loads) == sorted(expected)
        for path, markers in expected.items():
            read, loaded, rejected, found = accounted_markers(con, path)
            assert markers - found == set(), f"{path}: lines neither loaded nor quarantined"
            assert loaded > 0 and rejected > 0, path
            assert read >= FUZZ_ROWS * 0.9, (path, read)
        reasons = {
            row[0] for row in con.execute("select reason from raw.ingest_rejects").fetchall()
        }
        assert reasons <= {
            "wrong_number_of_fields",
            "invalid_utf8",
            "malformed_quoting",
            "line_too_long",
            "malformed_csv",
            "invalid_json",
            "not_a_json_object",
            "missing_id",
        }, reasons
    finally:
        con.close()


# --- a whole night over the worked example plus hostile files --------------------------------

BOUNDS_ROWS = {
    "adjustments": [
        "adjustment_id,program_id,partner_id,amount_cents,effective_at,reason",
        "adj_year1,prog_lumen,pt_mira,500,0001-01-01T00:00:00Z,old",
        "adj_1999,prog_lumen,pt_mira,500,1999-12-31T23:59:59Z,old",
        "adj_2999,prog_lumen,pt_mira,500,2999-01-01T00:00:00Z,future",
        "adj_huge,prog_lumen,pt_mira,-999999999999999999,2025-03-05T00:00:00Z,huge",
        "adj_max,prog_lumen,pt_mira,1000000000001,2025-03-05T00:00:00Z,max",
    ],
    "sales": [
        "transaction_id,program_id,customer_key,kind,amount_cents,currency,occurred_at,refund_of,"
        "coupon_code",
        "tx_huge,prog_lumen,c1,sale,999999999999999999,EUR,2025-03-05T00:00:00Z,,",
        "tx_9999,prog_lumen,c1,sale,100,EUR,9999-12-31T00:00:00Z,,",
    ],
}
EXPECTED_REASONS = {
    ("adjustments", 2): "timestamp_out_of_range",
    ("adjustments", 3): "timestamp_out_of_range",
    ("adjustments", 4): "timestamp_in_future",
    ("adjustments", 5): "amount_out_of_range",
    ("adjustments", 6): "amount_out_of_range",
    ("sales", 2): "amount_out_of_range",
    ("sales", 3): "timestamp_in_future",
}
STRIPE_BOUNDS = [
    {
        "id": "in_huge",
        "object": "invoice",
        "customer": "cus_x",
        "status": "paid",
        "currency": "eur",
        "amount_paid": 10**13,
        "status_transitions": {"paid_at": 1741168800},
        "metadata": {"program_id": "prog_lumen"},
    },
    {
        "id": "in_1990",
        "object": "invoice",
        "customer": "cus_x",
        "status": "paid",
        "currency": "eur",
        "amount_paid": 100,
        "status_transitions": {"paid_at": 631152000},
        "metadata": {"program_id": "prog_lumen"},
    },
    {
        "id": "in_epoch_overflow",
        "object": "invoice",
        "customer": "cus_x",
        "status": "paid",
        "currency": "eur",
        "amount_paid": 100,
        "status_transitions": {"paid_at": 10**15},
        "metadata": {"program_id": "prog_lumen"},
    },
]
STRIPE_REASONS = {
    "in_huge": "amount_out_of_range",
    "in_1990": "timestamp_out_of_range",
    "in_epoch_overflow": "invalid_timestamp",
}


@pytest.fixture(scope="module")
def hostile_night(prefect_harness, example: Path, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("hostile_night")
    landing = root / "landing"
    shutil.copytree(example / "landing", landing)
    rows = min(FUZZ_ROWS, 2000)
    write_hostile_landing(landing, rows, FUZZ_SEED + 1)
    for table, lines in BOUNDS_ROWS.items():
        (landing / "tracking" / table / "bounds.csv").write_text("\n".join(lines) + "\n")
    with (landing / "stripe" / "invoices.jsonl").open("a") as handle:
        for body in STRIPE_BOUNDS:
            handle.write(json.dumps(body) + "\n")
    warehouse = root / "warehouse" / "example.duckdb"
    summary = nightly_settlement(
        as_of=date(2025, 4, 1),
        landing=landing,
        rules=example / "rules",
        warehouse=warehouse,
        out=root / "out",
    )
    return {"summary": summary, "warehouse": warehouse, "out": root / "out"}


def test_a_night_over_hostile_files_completes(hostile_night: dict) -> None:
    summary = hostile_night["summary"]
    assert summary["batches_closed"] == ["prog_lumen-2025-03"]
    assert summary["batches_published"] == ["prog_lumen-2025-03"]
    assert summary["quarantined"] > 1000


def test_amounts_and_dates_out_of_bounds_are_quarantined_with_their_reason(
    hostile_night: dict,
) -> None:
    con = connect(hostile_night["warehouse"], read_only=True)
    try:
        rows = con.execute(
            "select source_table, line_no, reason from quarantine "
            "where file_path like '%/bounds.csv'"
        ).fetchall()
        stripe = dict(
            con.execute(
                "select json_extract_string(raw_text, '$.id'), reason from quarantine "
                "where source_table = 'invoices' and raw_text like '%\"in\\_%' escape '\\'"
            ).fetchall()
        )
        periods = {
            row[0] for row in con.execute("select period from fct_payout_batches").fetchall()
        }
        earliest = con.execute("select min(earned_at) from fct_ledger_entries").fetchone()[0]
    finally:
        con.close()
    assert {(table, line): reason for table, line, reason in rows} == EXPECTED_REASONS
    assert {key: stripe.get(key) for key in STRIPE_REASONS} == STRIPE_REASONS
    assert periods == {"2025-03"}
    assert earliest.year == 2025
