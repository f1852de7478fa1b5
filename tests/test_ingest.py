"""Landing files → raw tables (SPEC §1.1, §1.2), on a DuckDB file, without dbt or Prefect.

Each test writes a small landing directory under tmp_path and calls
``partner_ledger.io.ingest.ingest_landing`` on a warehouse made with ``partner_ledger.io.warehouse.connect``: delivery
identity (path + content hash), versions, the rows-read accounting of the manifest, structural
rejects (with file, line number — the header is line 1 — and raw text) that never stop the valid
rows of the same file, and a one-million-row file under a memory sanity bound.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from partner_ledger.io.ingest import ingest_landing
from partner_ledger.io.warehouse import connect, ensure_raw_schema

REPO = Path(__file__).resolve().parent.parent

CLICKS_HEADER = "click_id,program_id,partner_code,occurred_at,visitor_id,landing_url\n"
PARTNERS_HEADER = (
    "partner_id,program_id,partner_code,name,email,recruited_by,joined_at,status,"
    "status_changed_at,payout_method,payout_account\n"
)
COUPONS_HEADER = "coupon_code,program_id,partner_id\n"


def click(click_id: str, landing_url: str = "https://ex.example/p?aff=mira") -> str:
    return f"{click_id},prog_a,mira,2025-03-01T10:00:00Z,v_{click_id},{landing_url}\n"


def write(landing: Path, rel: str, content: str | bytes) -> Path:
    path = landing / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    if rel.endswith(".gz"):
        data = gzip.compress(data, mtime=0)
    path.write_bytes(data)
    return path


@pytest.fixture
def con(tmp_path: Path):
    connection = connect(tmp_path / "warehouse" / "w.duckdb")
    yield connection
    connection.close()


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    folder = tmp_path / "landing"
    folder.mkdir()
    return folder


def manifest(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select delivery_seq, source, table_name, path, sha256, rows_read, rows_loaded, "
        "rows_rejected, loaded_at from raw.load_manifest order by delivery_seq"
    ).fetchall()


def clicks(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        "select delivery_seq, file_path, line_no, click_id, landing_url from raw.tracking_clicks "
        "order by delivery_seq, line_no"
    ).fetchall()


def rejects(con: duckdb.DuckDBPyConnection, path: str | None = None) -> list[tuple]:
    rows = con.execute(
        "select file_path, line_no, raw_text, reason from raw.ingest_rejects "
        "order by delivery_seq, line_no"
    ).fetchall()
    return [row for row in rows if path is None or row[0] == path]


# --- deliveries and versions ------------------------------------------------------------------


def test_plain_and_gzip_files_load(con, landing: Path) -> None:
    write(landing, "tracking/clicks/2025-03-a.csv", CLICKS_HEADER + click("c1") + click("c2"))
    write(landing, "tracking/clicks/2025-03-b.csv.gz", CLICKS_HEADER + click("c3") + click("c4"))
    write(landing, "tracking/coupons/coupons.csv.gz", COUPONS_HEADER + "OLGA20,prog_a,pt_olga\n")

    summary = ingest_landing(con, landing)

    assert summary.rows_loaded == 5 and summary.rows_rejected == 0
    assert [(row[1], row[2], row[3]) for row in clicks(con)] == [
        ("tracking/clicks/2025-03-a.csv", 2, "c1"),
        ("tracking/clicks/2025-03-a.csv", 3, "c2"),
        ("tracking/clicks/2025-03-b.csv.gz", 2, "c3"),
        ("tracking/clicks/2025-03-b.csv.gz", 3, "c4"),
    ]
    assert con.execute(
        "select coupon_code, program_id, partner_id from raw.tracking_coupons"
    ).fetchall() == [("OLGA20", "prog_a", "pt_olga")]
    gz_row = con.execute(
        "select visitor_id, occurred_at from raw.tracking_clicks where click_id = 'c4'"
    ).fetchone()
    assert gz_row == ("v_c4", "2025-03-01T10:00:00Z")
    assert sorted(row[3] for row in manifest(con)) == [
        "tracking/clicks/2025-03-a.csv",
        "tracking/clicks/2025-03-b.csv.gz",
        "tracking/coupons/coupons.csv.gz",
    ]
    assert rejects(con) == []


def test_rerun_with_unchanged_files_loads_nothing(con, landing: Path) -> None:
    write(landing, "tracking/clicks/a.csv", CLICKS_HEADER + click("c1") + "c2,too,few\n")
    write(landing, "tracking/clicks/b.csv.gz", CLICKS_HEADER + click("c3"))
    write(landing, "stripe/customers.jsonl", '{"id": "cus_1", "object": "customer"}\n')
    first = ingest_landing(con, landing)
    assert len(first.loads) == 3
    before = (manifest(con), clicks(con), rejects(con))
    stripe_before = con.execute("select count(*) from raw.stripe_objects").fetchone()

    second = ingest_landing(con, landing)

    assert second.loads == [] and second.skipped == 3
    assert second.rows_read == second.rows_loaded == second.rows_rejected == 0
    assert (manifest(con), clicks(con), rejects(con)) == before
    assert con.execute("select count(*) from raw.stripe_objects").fetchone() == stripe_before


def test_a_working_copy_opened_again_numbers_deliveries_after_those_recorded(
    tmp_path: Path, landing: Path
) -> None:
    """A run's working copy is checkpointed only at its commit (docs/decisions/0027); DuckDB
    does not log a sequence's use on its own, so each task that opens the copy again finds the
    sequence where the last checkpoint left it. Deliveries must keep numbers above those
    recorded (the newest delivery wins by its number, SPEC §1.1)."""
    warehouse = tmp_path / "warehouse.duckdb"
    con = connect(warehouse)
    ensure_raw_schema(con)
    con.close()
    work = tmp_path / ".run" / "warehouse.duckdb"
    work.parent.mkdir()
    os.link(warehouse, work)  # as a night makes it (flows/nightly.py)
    for task, name in enumerate(("a.csv", "b.csv", "c.csv")):
        write(landing, f"tracking/clicks/{name}", CLICKS_HEADER + click(f"c{task}"))
        con = connect(work)
        try:
            assert len(ingest_landing(con, landing).loads) == 1
        finally:
            con.close()
    assert (tmp_path / ".run" / "warehouse.duckdb.wal").stat().st_size > 0  # not checkpointed
    con = connect(work, read_only=True)
    try:
        assert con.execute(
            "select path, delivery_seq from raw.load_manifest order by delivery_seq"
        ).fetchall() == [
            ("tracking/clicks/a.csv", 1),
            ("tracking/clicks/b.csv", 2),
            ("tracking/clicks/c.csv", 3),
        ]
    finally:
        con.close()


def test_unchanged_files_are_not_read_again_and_a_rewrite_is_seen(con, landing: Path) -> None:
    """A night reads only the files that may have changed: an untouched file keeps the hash
    recorded when it was read (raw.file_states), while a file rewritten with the same size and
    its old modification time put back is read again (its ctime moved) and loads as a new
    version."""
    import os

    rel = "tracking/clicks/a.csv"
    path = write(landing, rel, CLICKS_HEADER + click("c1"))
    other = write(landing, "tracking/clicks/b.csv", CLICKS_HEADER + click("c2"))
    ingest_landing(con, landing)

    def hashed_at(relative: str):
        return con.execute(
            "select hashed_at from raw.file_states where path = ?", [relative]
        ).fetchone()[0]

    first_read = hashed_at(rel), hashed_at("tracking/clicks/b.csv")
    assert ingest_landing(con, landing).skipped == 2
    assert (hashed_at(rel), hashed_at("tracking/clicks/b.csv")) == first_read

    stat = path.stat()
    path.write_text(CLICKS_HEADER + click("c9"))  # same length as c1's file
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns

    again = ingest_landing(con, landing)

    assert [load.path for load in again.loads] == [rel] and again.skipped == 1
    assert hashed_at(rel) > first_read[0]
    assert hashed_at("tracking/clicks/b.csv") == first_read[1]
    assert "c9" in {row[3] for row in clicks(con)}
    assert other.read_text().endswith(click("c2"))


def test_a_file_never_loaded_is_hashed_beside_its_load(con, landing: Path) -> None:
    """A file whose path was loaded before is hashed before the loads (a new version is loaded
    only when its content changed); a file never loaded is loaded whatever its content, so it is
    hashed on a thread of its own while the loads run. Either way its manifest row and its
    recorded state carry the hash of its content, and the next night reads neither again."""
    import hashlib
    from concurrent.futures import Future, ThreadPoolExecutor

    from partner_ledger.io.ingest import content_shas, resolved

    old = write(landing, "tracking/clicks/a.csv", CLICKS_HEADER + click("c1"))
    ingest_landing(con, landing)
    write(landing, "tracking/clicks/a.csv", CLICKS_HEADER + click("c1") + click("c2"))
    new = write(landing, "tracking/clicks/b.csv", CLICKS_HEADER + click("c3"))
    files = [(old, "tracking/clicks/a.csv"), (new, "tracking/clicks/b.csv")]

    def sha(path: Path) -> str:
        return hashlib.sha256(path.read_bytes()).hexdigest()

    with ThreadPoolExecutor(max_workers=1) as beside:
        hashes = content_shas(con, files, beside=beside)
        assert isinstance(hashes.shas[0], str) and hashes.shas[0] == sha(old)
        assert isinstance(hashes.shas[1], Future) and resolved(hashes.shas[1]) == sha(new)
        assert content_shas(con, files).shas == [sha(old), sha(new)]  # nothing beside: all now

    summary = ingest_landing(con, landing)

    assert sorted(load.path for load in summary.loads) == [rel for _, rel in files]
    assert {row[3]: row[4] for row in manifest(con)[1:]} == {rel: sha(p) for p, rel in files}
    states = dict(con.execute("select path, sha256 from raw.file_states").fetchall())
    assert states == {rel: sha(p) for p, rel in files}
    assert ingest_landing(con, landing).skipped == 2


def test_changed_file_at_same_path_is_a_new_delivery(con, landing: Path) -> None:
    path = "tracking/clicks/clicks.csv"
    write(landing, path, CLICKS_HEADER + click("c1", "https://ex.example/v1") + click("c2"))
    ingest_landing(con, landing)
    write(landing, path, CLICKS_HEADER + click("c1", "https://ex.example/v2"))

    summary = ingest_landing(con, landing)

    assert [load.path for load in summary.loads] == [path]
    (seq1, *_, sha1, _r1, _l1, _j1, _t1), (seq2, *_, sha2, _r2, _l2, _j2, _t2) = manifest(con)
    assert seq2 > seq1 and sha1 != sha2
    # both versions are kept in raw, each under its own delivery
    assert [(row[0], row[3], row[4]) for row in clicks(con)] == [
        (seq1, "c1", "https://ex.example/v1"),
        (seq1, "c2", "https://ex.example/p?aff=mira"),
        (seq2, "c1", "https://ex.example/v2"),
    ]


def test_file_put_back_to_an_earlier_content_is_a_new_version(con, landing: Path) -> None:
    path = "tracking/clicks/clicks.csv"
    v1 = CLICKS_HEADER + click("c1", "https://ex.example/v1")
    v2 = CLICKS_HEADER + click("c1", "https://ex.example/v2")
    for content in (v1, v2, v1):
        write(landing, path, content)
        summary = ingest_landing(con, landing)
        assert [load.path for load in summary.loads] == [path]
    assert ingest_landing(con, landing).loads == []  # and then it is unchanged again

    rows = manifest(con)
    assert len(rows) == 3
    seqs = [row[0] for row in rows]
    shas = [row[4] for row in rows]
    assert seqs == sorted(set(seqs))
    assert shas[0] == shas[2] != shas[1]
    assert [(row[0], row[4]) for row in clicks(con)] == [
        (seqs[0], "https://ex.example/v1"),
        (seqs[1], "https://ex.example/v2"),
        (seqs[2], "https://ex.example/v1"),
    ]


# --- accounting --------------------------------------------------------------------------------


def test_rows_read_equal_loaded_plus_rejected_per_file_and_overall(con, landing: Path) -> None:
    files = {  # path → (content, data records in the file)
        "tracking/clicks/a.csv": (
            CLICKS_HEADER + click("c1") + "c2,prog_a\n" + click("c3") + click("c4") + "x,y\n",
            5,
        ),
        "tracking/clicks/b.csv.gz": (CLICKS_HEADER + click("c5") + click("c6") + "z\n", 3),
        "tracking/partners/p.csv": (
            PARTNERS_HEADER
            + "pt_1,prog_a,mira,Mira,m@ex.example,,2025-01-01T00:00:00Z,active,,sepa,X\n",
            1,
        ),
        "tracking/coupons/wrong.csv": ("code,program_id,partner_id\nA,prog_a,pt_1\n", None),
        "stripe/invoices.jsonl": ('{"id": "in_1"}\nnot json\n{"id": "in_2"}\n', 3),
    }
    for rel, (content, _) in files.items():
        write(landing, rel, content)

    summary = ingest_landing(con, landing)

    rows = {row[3]: row for row in manifest(con)}
    assert set(rows) == set(files)
    for rel, (seq, _src, _tbl, _p, _sha, read, loaded, rejected, _at) in rows.items():
        assert read == loaded + rejected, rel
        records = files[rel][1]
        if records is not None:
            assert read == records, f"{rel}: every data record is counted as read"
        in_rejects = con.execute(
            "select count(*) from raw.ingest_rejects where delivery_seq = ?", [seq]
        ).fetchone()[0]
        assert in_rejects == rejected, rel
    loaded_by_seq = dict(
        con.execute(
            "select delivery_seq, count(*) from ("
            " select delivery_seq from raw.tracking_clicks"
            " union all select delivery_seq from raw.tracking_partners"
            " union all select delivery_seq from raw.tracking_coupons"
            " union all select delivery_seq from raw.stripe_objects) group by 1"
        ).fetchall()
    )
    for rel, row in rows.items():
        assert loaded_by_seq.get(row[0], 0) == row[6], rel
    assert rows["tracking/clicks/a.csv"][6:8] == (3, 2)
    assert rows["tracking/clicks/b.csv.gz"][6:8] == (2, 1)
    assert rows["stripe/invoices.jsonl"][6:8] == (2, 1)
    # overall: the summary agrees with the manifest, and read = loaded + rejected
    assert summary.rows_read == sum(row[5] for row in rows.values())
    assert summary.rows_loaded == sum(row[6] for row in rows.values())
    assert summary.rows_rejected == sum(row[7] for row in rows.values())
    assert summary.rows_read == summary.rows_loaded + summary.rows_rejected
    assert {(load.path, load.rows_read) for load in summary.loads} == {
        (rel, row[5]) for rel, row in rows.items()
    }


# --- structural rejects --------------------------------------------------------------------------

BAD_CLICKS = (
    CLICKS_HEADER.encode()
    + click("c1").encode()  # line 2
    + b"c2,prog_a,mira,2025-03-01T10:00:00Z,v_c2\n"  # line 3: 5 fields
    + b"c3,prog_a,mira,2025-03-01T10:00:00Z,v_c3,https://ex.example,extra\n"  # line 4: 7 fields
    + b"c4,prog_a,mira,2025-03-01T10:00:00Z,v_\xff\xfec4,https://ex.example\n"  # line 5: not UTF-8
    + b'c5,prog_a,mira,"2025-03-01T10:00:00Z"oops,v_c5,https://ex.example\n'  # line 6: quoting
    + click("c6").encode()  # line 7
    + click("c7").encode()  # line 8
)


@pytest.mark.parametrize("name", ["bad.csv", "bad.csv.gz"])
def test_wrong_fields_invalid_utf8_and_broken_quoting_are_rejected_not_fatal(
    con, landing: Path, name: str
) -> None:
    rel = f"tracking/clicks/{name}"
    write(landing, rel, BAD_CLICKS)
    write(landing, "tracking/clicks/zz-good.csv", CLICKS_HEADER + click("g1"))

    summary = ingest_landing(con, landing)

    found = rejects(con, rel)
    assert [row[1] for row in found] == [3, 4, 5, 6]
    by_line = {row[1]: row for row in found}
    assert by_line[3][2] == "c2,prog_a,mira,2025-03-01T10:00:00Z,v_c2"
    assert by_line[4][2] == "c3,prog_a,mira,2025-03-01T10:00:00Z,v_c3,https://ex.example,extra"
    assert by_line[3][3] == by_line[4][3] == "wrong_number_of_fields"
    assert by_line[5][2].startswith("c4,prog_a,mira,2025-03-01T10:00:00Z,v_")
    assert "utf" in by_line[5][3].lower()
    assert by_line[6][2] == 'c5,prog_a,mira,"2025-03-01T10:00:00Z"oops,v_c5,https://ex.example'
    assert "quot" in by_line[6][3].lower()
    # the valid rows of the same file load, with their own line numbers
    assert [(row[2], row[3]) for row in clicks(con) if row[1] == rel] == [
        (2, "c1"),
        (7, "c6"),
        (8, "c7"),
    ]
    assert [row[3] for row in clicks(con) if row[1] != rel] == ["g1"]
    load = next(load for load in summary.loads if load.path == rel)
    assert (load.rows_read, load.rows_loaded, load.rows_rejected) == (7, 3, 4)


def test_rejects_scattered_through_a_large_file_leave_every_record_its_own_line(
    con, landing: Path
) -> None:
    """Each valid record is numbered with its line as it is inserted: its row number plus the
    rejects before it. Rejects at the start, at the end, alone and in runs (several with the
    same count of valid records before them); each click id names its line."""
    bad_lines = {2, 3, 50, 51, 52, 53, 977, 2_000, 2_001, 5_000, 9_999, 10_001}
    lines = [CLICKS_HEADER]
    for line_no in range(2, 10_002):
        if line_no in bad_lines:
            lines.append(f"c{line_no},prog_a,mira,2025-03-01T10:00:00Z\n")  # 4 fields
        else:
            lines.append(click(f"c{line_no}"))
    write(landing, "tracking/clicks/large.csv", "".join(lines))

    summary = ingest_landing(con, landing)

    loaded = [(row[2], row[3]) for row in clicks(con)]
    assert len(loaded) == 10_000 - len(bad_lines)
    assert all(click_id == f"c{line_no}" for line_no, click_id in loaded)
    assert [row[1] for row in rejects(con)] == sorted(bad_lines)
    assert summary.loads[0].rows_rejected == len(bad_lines)


def test_quoted_field_with_comma_newline_and_quotes_loads_intact(con, landing: Path) -> None:
    rel = "tracking/clicks/quoted.csv"
    url = "https://ex.example/p?aff=mira,utm=a\nsecond line, with comma"
    write(
        landing,
        rel,
        CLICKS_HEADER
        + f'c1,prog_a,mira,2025-03-01T10:00:00Z,v_c1,"{url}"\n'
        + 'c2,prog_a,mira,2025-03-01T10:00:00Z,"visitor ""quoted""",plain\n'
        + click("c3"),
    )

    summary = ingest_landing(con, landing)

    assert rejects(con) == []
    assert summary.rows_loaded == 3
    values = dict(con.execute("select click_id, landing_url from raw.tracking_clicks").fetchall())
    assert values == {"c1": url, "c2": "plain", "c3": "https://ex.example/p?aff=mira"}
    assert con.execute(
        "select visitor_id from raw.tracking_clicks where click_id = 'c2'"
    ).fetchone() == ('visitor "quoted"',)


def test_unterminated_quote_does_not_drop_rows_silently(con, landing: Path) -> None:
    """A quote opened and never closed is broken quoting too: what cannot be parsed must be
    quarantined with its line number (SPEC §1.1: never dropped silently), and the lines after
    it are read again as records."""
    rel = "tracking/clicks/unterminated.csv"
    write(
        landing,
        rel,
        CLICKS_HEADER
        + click("c1")  # line 2
        + 'c2,prog_a,mira,2025-03-01T10:00:00Z,v_c2,"https://ex.example/never-closed\n'  # line 3
        + click("c3"),  # physical line 4
    )

    summary = ingest_landing(con, landing)

    # the row before loads, and so does the row after: the stray quote costs its own line only
    # (docs/decisions/0015)
    assert [(row[2], row[3]) for row in clicks(con)] == [(2, "c1"), (4, "c3")]
    load = summary.loads[0]
    assert load.rows_read == load.rows_loaded + load.rows_rejected
    lines = [row[1] for row in rejects(con, rel)]
    assert 3 in lines, (
        f"rows after line 2 vanished: manifest says rows_read={load.rows_read}, "
        f"rows_rejected={load.rows_rejected}, rejects={rejects(con, rel)}"
    )


def test_blank_lines_keep_the_line_numbers_of_the_records_after_them(con, landing: Path) -> None:
    """A blank line is not a record, and the records after it keep their physical line."""
    write(
        landing,
        "tracking/clicks/blanks.csv",
        CLICKS_HEADER + click("c1") + "\n" + click("c2") + click("c3"),
    )

    summary = ingest_landing(con, landing)

    assert [(row[2], row[3]) for row in clicks(con)] == [(2, "c1"), (4, "c2"), (5, "c3")]
    assert summary.loads[0].rows_rejected == 0


def test_a_line_ending_in_crlf_among_lf_lines_does_not_stop_the_file(con, landing: Path) -> None:
    """RFC 4180 lines end in CRLF, most exports use LF; a file mixing both (one hand-edited
    line) must not abort the ingest: its rows load or are quarantined, never stop the others."""
    rel = "tracking/clicks/mixed-endings.csv"
    write(
        landing,
        rel,
        CLICKS_HEADER
        + click("c1")  # line 2, LF
        + click("c2").replace("\n", "\r\n")  # line 3, CRLF
        + click("c3"),  # line 4, LF
    )
    write(landing, "tracking/clicks/other.csv", CLICKS_HEADER + click("o1"))

    summary = ingest_landing(con, landing)  # must not raise

    load = next(load for load in summary.loads if load.path == rel)
    assert load.rows_read == 3 == load.rows_loaded + load.rows_rejected
    loaded = {row[3]: row[2] for row in clicks(con) if row[1] == rel}
    rejected = {row[1] for row in rejects(con, rel)}
    assert loaded.get("c1") == 2 and loaded.get("c3") == 4
    assert loaded.get("c2") == 3 or rejected == {3}
    assert "o1" in {row[3] for row in clicks(con)}


# --- headers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header, column",
    [
        ("click_id,program_id,partner_code,occurred_at,visitor,landing_url\n", "visitor_id"),
        ("click_id,program_id,partner_code,occurred_at,visitor_id\n", "landing_url"),
        (CLICKS_HEADER.rstrip("\n") + ",extra\n", "extra"),
    ],
)
def test_header_with_wrong_columns_rejects_the_file(
    con, landing: Path, header: str, column: str
) -> None:
    rel = "tracking/clicks/wrong-header.csv"
    write(landing, rel, header + click("c1") + click("c2"))
    write(landing, "tracking/clicks/right.csv", CLICKS_HEADER + click("c9"))

    summary = ingest_landing(con, landing)

    assert [row[3] for row in clicks(con)] == ["c9"]
    found = rejects(con, rel)
    assert len(found) == 1
    _, line_no, _, reason = found[0]
    assert line_no == 1
    assert "header" in reason.lower() and column in reason, reason
    load = next(load for load in summary.loads if load.path == rel)
    assert load.rows_loaded == 0 and load.rows_rejected >= 1


def test_header_in_another_order_maps_columns_by_name(con, landing: Path) -> None:
    write(
        landing,
        "tracking/coupons/reordered.csv",
        "partner_id,coupon_code,program_id\npt_olga,OLGA20,prog_a\n",
    )
    ingest_landing(con, landing)
    assert rejects(con) == []
    assert con.execute(
        "select coupon_code, program_id, partner_id from raw.tracking_coupons"
    ).fetchall() == [("OLGA20", "prog_a", "pt_olga")]


# --- Stripe JSONL -------------------------------------------------------------------------------


def test_jsonl_lines_that_are_not_objects_with_an_id_are_rejected(con, landing: Path) -> None:
    rel = "stripe/invoices.jsonl"
    lines = [
        '{"id": "in_1", "object": "invoice", "amount_paid": 1000}',  # 1
        '{"id": "in_2", "object": "invoice"',  # 2: not JSON
        '["in_3", "invoice"]',  # 3: an array
        '{"object": "invoice", "amount_paid": 5}',  # 4: no id
        '{"id": null, "object": "invoice"}',  # 5: no usable id
        '{"id": "in_6", "object": "invoice", "note": "a, b"}',  # 6
        '{"id": "in_7", "object": "invoice", "note": "é ✓"}',  # 7: ends in CRLF
    ]
    write(landing, rel, "\n".join(lines[:6]) + "\n" + lines[6] + "\r\n")

    summary = ingest_landing(con, landing)

    loaded = con.execute(
        "select file_path, line_no, object_type, object_id, body from raw.stripe_objects "
        "order by line_no"
    ).fetchall()
    assert [(row[1], row[2], row[3]) for row in loaded] == [
        (1, "invoices", "in_1"),
        (6, "invoices", "in_6"),
        (7, "invoices", "in_7"),
    ]
    assert json.loads(loaded[0][4])["amount_paid"] == 1000
    # the body is the line as delivered, without its line end
    assert [row[4] for row in loaded] == [lines[0], lines[5], lines[6]]
    found = rejects(con, rel)
    assert [(row[1], row[2]) for row in found] == [(n, lines[n - 1]) for n in (2, 3, 4, 5)]
    assert all(row[3] for row in found)
    assert (summary.rows_read, summary.rows_loaded, summary.rows_rejected) == (7, 3, 4)


def test_jsonl_larger_than_one_batch_loads_every_line_with_its_number(
    con, landing: Path, monkeypatch
) -> None:
    """Stripe lines go in as batches (partner_ledger.io.ingest.STRIPE_BATCH_LINES): with batches of 3, a
    file of 10 lines with a bad line and a blank line loads the other 8 with their own line
    numbers, all in one delivery."""
    import partner_ledger.io.ingest

    monkeypatch.setattr(partner_ledger.io.ingest, "STRIPE_BATCH_LINES", 3)
    lines = [f'{{"id": "ch_{n}", "object": "charge"}}' for n in range(1, 11)]
    lines[4] = "not json"  # line 5
    lines[7] = ""  # line 8: blank
    write(landing, "stripe/charges.jsonl", "\n".join(lines) + "\n")

    summary = ingest_landing(con, landing)

    loaded = con.execute(
        "select line_no, object_id, count(*) over (), count(distinct delivery_seq) over () "
        "from raw.stripe_objects order by line_no"
    ).fetchall()
    assert [(row[0], row[1]) for row in loaded] == [
        (n, f"ch_{n}") for n in (1, 2, 3, 4, 6, 7, 9, 10)
    ]
    assert loaded[0][2:] == (8, 1)
    assert [row[1] for row in rejects(con, "stripe/charges.jsonl")] == [5]
    assert (summary.rows_loaded, summary.rows_rejected) == (8, 1)


# --- volume --------------------------------------------------------------------------------------

MEASURE = r"""
import json, resource, sys
from pathlib import Path
from partner_ledger.io.ingest import ingest_landing
from partner_ledger.io.warehouse import connect, ensure_raw_schema
con = connect(Path(sys.argv[1]))
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
summary = ingest_landing(con, Path(sys.argv[2]))
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
count = con.execute("select count(*), min(line_no), max(line_no) from raw.tracking_clicks").fetchone()
con.close()
print(json.dumps({"before_kb": before, "after_kb": after, "rows_read": summary.rows_read,
                  "rows_loaded": summary.rows_loaded, "rows_rejected": summary.rows_rejected,
                  "raw": list(count)}))
"""


def test_a_million_row_clicks_file_loads_with_modest_memory(tmp_path: Path) -> None:
    """Sanity bound, not a timing test. The load runs in a fresh interpreter so that its peak RSS
    (ru_maxrss is a high-water mark for the whole process) is not hidden by earlier tests."""
    rows = 1_000_000
    folder = tmp_path / "landing" / "tracking" / "clicks"
    folder.mkdir(parents=True)
    writer = duckdb.connect()
    writer.execute(
        f"""
        copy (
            select 'clk_' || i as click_id, 'prog_a' as program_id,
                   'partner' || (i % 50) as partner_code,
                   strftime(timestamp '2025-01-01' + i * interval 1 second,
                            '%Y-%m-%dT%H:%M:%SZ') as occurred_at,
                   'v_' || (i // 3) as visitor_id,
                   'https://ex.example/pricing?aff=partner' || (i % 50) || '&n=' || i
                       as landing_url
            from range({rows}) as t(i)
        ) to '{folder / "clicks-big.csv"}' (header, delimiter ',')
        """
    )
    writer.close()

    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(tmp_path / "w.duckdb"), str(tmp_path / "landing")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["rows_read"] == result["rows_loaded"] == rows
    assert result["rows_rejected"] == 0
    assert result["raw"] == [rows, 2, rows + 1]
    growth_mb = (result["after_kb"] - result["before_kb"]) / 1024  # Linux: kilobytes
    assert growth_mb < 600, f"peak RSS grew by {growth_mb:.0f} MB to load a 1M-row CSV"


def test_tracking_and_stripe_load_side_by_side_with_delivery_numbers_in_path_order(
    example: Path, tmp_path: Path
) -> None:
    """Tracking and Stripe files load on two connections at once; the delivery numbers are
    given in path order before, so two ingests of one landing give the same raw tables."""
    from partner_ledger.io.ingest import stripe_files, tracking_files

    tables = {}
    for name in ("first", "second"):
        con = connect(tmp_path / name / "partner_ledger.duckdb")
        summary = ingest_landing(con, example / "landing")
        assert {load.table for load in summary.loads} >= {"clicks", "invoices"}  # both kinds
        raw = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables where table_schema = 'raw' "
                "and table_name not in ('file_states') order by table_name"
            ).fetchall()
        ]
        tables[name] = {
            table: con.execute(
                f"select * exclude (loaded_at) from raw.{table} order by all"
                if table == "load_manifest"
                else f"select * from raw.{table} order by all"
            ).fetchall()
            for table in raw
        }
        manifest = con.execute(
            "select path from raw.load_manifest order by delivery_seq"
        ).fetchall()
        con.close()
        in_path_order = [
            path.relative_to(example / "landing").as_posix()
            for _, path in tracking_files(example / "landing") + stripe_files(example / "landing")
        ]
        assert [row[0] for row in manifest] == in_path_order
    assert tables["first"] == tables["second"]
    assert len(tables["first"]["stripe_objects"]) > 0


def test_two_tracking_files_load_at_once_and_number_as_in_path_order(
    con: duckdb.DuckDBPyConnection, landing: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no Stripe file to load (or once they are in), both connections take tracking files:
    at L twelve clicks files of about 30 s each were left to one. The first load waits until a
    second one has started (a barrier, broken after 30 s if loads run one at a time); the
    rows, delivery numbers and manifest are those of path order."""
    import threading

    from partner_ledger.io import ingest

    for month in range(1, 5):
        write(landing, f"tracking/clicks/2025-0{month}.csv", CLICKS_HEADER + click(f"c{month}"))
    started = threading.Barrier(2, timeout=30)
    threads: list[str] = []
    real_load = ingest.load_tracking_file

    def load_observed(*args, **kwargs):
        threads.append(threading.current_thread().name)
        if len(threads) <= 2:
            started.wait()  # BrokenBarrierError unless two loads run at once
        return real_load(*args, **kwargs)

    monkeypatch.setattr(ingest, "load_tracking_file", load_observed)
    summary = ingest_landing(con, landing)

    assert len(set(threads)) == 2
    assert [load.path for load in summary.loads] == [
        f"tracking/clicks/2025-0{month}.csv" for month in range(1, 5)
    ]
    assert con.execute(
        "select delivery_seq, path from raw.load_manifest order by delivery_seq"
    ).fetchall() == [(month, f"tracking/clicks/2025-0{month}.csv") for month in range(1, 5)]
    assert con.execute(
        "select delivery_seq, click_id from raw.tracking_clicks order by delivery_seq"
    ).fetchall() == [(month, f"c{month}") for month in range(1, 5)]


def _stripe_file(path: Path, objects: int, huge_last: bool) -> Path:
    """invoices.jsonl: `objects` small invoices, one line that is not JSON, and maybe a last
    invoice of 100 MB (more than a 32MB memory cap lets DuckDB hold)."""
    with path.open("w") as handle:
        for number in range(objects):
            handle.write(json.dumps({"id": f"in_{number}", "object": "invoice"}) + "\n")
            if number == 3:
                handle.write("{not json\n")
        if huge_last:
            handle.write(json.dumps({"id": "in_huge", "pad": "x" * (100 << 20)}) + "\n")
    return path


@pytest.mark.parametrize("fails", [False, True])
def test_a_stripe_file_commits_as_it_goes_and_loads_whole_or_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fails: bool
) -> None:
    """A Stripe file is committed every STRIPE_COMMIT_LINES lines (one transaction for
    invoices.jsonl held 6.4 GB at L). A file that fails after some of its lines were committed
    leaves none of its rows, rejects or manifest row; one that loads has them all."""
    from partner_ledger.io import ingest

    monkeypatch.setattr(ingest, "STRIPE_BATCH_LINES", 10)
    monkeypatch.setattr(ingest, "STRIPE_COMMIT_LINES", 20)  # 120 lines: six commits
    monkeypatch.setenv("PARTNER_LEDGER_MEMORY_LIMIT", "32MB")
    path = _stripe_file(tmp_path / "invoices.jsonl", 120, huge_last=fails)
    con = connect(tmp_path / "w.duckdb")
    ensure_raw_schema(con)
    try:
        if fails:
            with pytest.raises(duckdb.OutOfMemoryException):
                ingest.load_stripe_file(con, "invoices", path, "stripe/invoices.jsonl", "sha", 7)
        else:
            load = ingest.load_stripe_file(con, "invoices", path, "stripe/invoices.jsonl", "sha", 7)
            assert (load.rows_loaded, load.rows_rejected) == (120, 1)
        counts = [
            con.execute(f"select count(*) from raw.{table} where delivery_seq = 7").fetchone()[0]
            for table in ("stripe_objects", "ingest_rejects", "load_manifest")
        ]
    finally:
        con.close()
    assert counts == ([0, 0, 0] if fails else [120, 1, 1])


@pytest.mark.parametrize("ingest_cap", ["32MB", "8GB"])
def test_the_ingest_loads_under_its_own_lower_cap_and_gives_the_run_its_cap_back(
    tmp_path: Path, landing: Path, monkeypatch: pytest.MonkeyPatch, ingest_cap: str
) -> None:
    """The ingest lowers DuckDB's cap to INGEST_MEMORY_LIMIT while it loads (the blocks it
    writes are only cache to it), unless the run's cap is lower already, and the run has its
    own cap again afterwards, also when a load failed. A 100 MB invoice does not fit under a
    32 MB ingest cap, and fits under the run's 1 GB."""
    from partner_ledger.io import ingest

    monkeypatch.setenv("PARTNER_LEDGER_MEMORY_LIMIT", "1GB")
    monkeypatch.setattr(ingest, "INGEST_MEMORY_LIMIT", ingest_cap)
    (landing / "stripe").mkdir(parents=True, exist_ok=True)
    _stripe_file(landing / "stripe" / "invoices.jsonl", 5, huge_last=True)
    write(landing, "tracking/clicks/a.csv", CLICKS_HEADER + click("c1"))
    con = connect(tmp_path / "cap.duckdb")
    try:
        if ingest_cap == "32MB":
            with pytest.raises(duckdb.OutOfMemoryException):
                ingest_landing(con, landing)
        else:
            summary = ingest_landing(con, landing)
            assert summary.rows_loaded == 6 + 1
        cap = con.execute("select current_setting('memory_limit')").fetchone()[0]
    finally:
        con.close()
    assert cap == "953.6 MiB"  # 1GB, as DuckDB prints it
