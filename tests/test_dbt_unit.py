"""dbt's own unit tests (the `unit_tests:` beside the models) and a clean `dbt build`.

The nightly flow excludes unit tests (they test the SQL, not the night's data); CI runs them
here against an empty warehouse that has the raw and rules schemas.
"""

from __future__ import annotations

import json
from pathlib import Path

from partner_ledger.io.warehouse import connect, ensure_raw_schema
from partner_ledger.rules.load import load_rules
from partner_ledger.settle.dbt import dbt_build, invoke


def _invoke_dbt(warehouse: Path, target: Path, *args: str):
    """dbt in-process on ``warehouse`` (the project's own profile), ``target`` as target path."""
    return invoke(
        [*args, "--quiet"],
        {"PARTNER_LEDGER_WAREHOUSE": str(warehouse), "DBT_TARGET_PATH": str(target)},
    )


def test_dbt_build_and_unit_tests_pass(example: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "unit" / "partner_ledger.duckdb"
    con = connect(warehouse)
    ensure_raw_schema(con)
    load_rules(con, example / "rules")
    con.close()
    dbt_build(warehouse, "2025-06-01", target_dir=tmp_path / "target")

    result = _invoke_dbt(
        warehouse,
        tmp_path / "target",
        "test",
        "--select",
        "test_type:unit",
        "--vars",
        json.dumps({"as_of": "2025-06-01"}),
    )
    failed = [
        f"{node.node.name}: {node.message}"
        for node in (result.result or [])
        if str(node.status) != "pass"
    ]
    assert result.success, "\n".join(failed)
    assert len(result.result) >= 50


def test_rejected_clicks_reach_the_quarantine_with_their_reason(
    example: Path, tmp_path: Path
) -> None:
    """SPEC §1.1 for clicks, the largest table: a record breaking a row rule or naming an unknown
    program is quarantined with its file, line, raw text and reason, once per record (a redelivered
    bad record too); valid records, and records timestamped at or after the as-of, are not."""
    from partner_ledger.io.ingest import ingest_landing

    landing = tmp_path / "landing"
    (landing / "tracking" / "clicks").mkdir(parents=True)
    header = "click_id,program_id,partner_code,occurred_at,visitor_id,landing_url\n"
    (landing / "tracking" / "clicks" / "2025-03.csv").write_text(
        header
        + "k1,prog_lumen,mira,2025-03-01T10:00:00Z,v1,https://x.example/\n"  # valid
        + "k2,prog_lumen,mira,2025-03-01,v2,\n"  # no time zone
        + "k3,prog_gone,mira,2025-03-01T10:00:00Z,v3,\n"  # unknown program
        + ",prog_lumen,mira,2025-03-01T10:00:00Z,v4,\n"  # no click id
        + "k5,prog_lumen,,2025-03-01T10:00:00Z,v5,\n"  # no partner code
        + "k6,prog_gone,mira,2025-07-01T10:00:00Z,v6,\n"  # after the as-of: not seen
    )
    (landing / "tracking" / "clicks" / "2025-04.csv").write_text(
        header + "k2,prog_lumen,mira,2025-03-01,v2,\n"  # the bad record delivered again
    )
    warehouse = tmp_path / "w" / "partner_ledger.duckdb"
    con = connect(warehouse)
    ensure_raw_schema(con)
    ingest_landing(con, landing)
    load_rules(con, example / "rules")
    con.close()

    def quarantined_clicks(as_of: str) -> list[tuple]:
        dbt_build(warehouse, as_of, select="+quarantine", target_dir=tmp_path / "target")
        con = connect(warehouse, read_only=True)
        try:
            return con.execute(
                "select file_path, line_no, raw_text, reason from quarantine "
                "where source_table = 'clicks' order by file_path, line_no"
            ).fetchall()
        finally:
            con.close()

    rows = quarantined_clicks("2025-06-01")
    march, april = "tracking/clicks/2025-03.csv", "tracking/clicks/2025-04.csv"
    assert rows == [
        (march, 3, "k2,prog_lumen,mira,2025-03-01,v2,", "invalid_timestamp"),
        (march, 4, "k3,prog_gone,mira,2025-03-01T10:00:00Z,v3,", "unknown_program_id"),
        (march, 5, ",prog_lumen,mira,2025-03-01T10:00:00Z,v4,", "missing_key"),
        (march, 6, "k5,prog_lumen,,2025-03-01T10:00:00Z,v5,", "missing_required_field"),
        (april, 2, "k2,prog_lumen,mira,2025-03-01,v2,", "invalid_timestamp"),
    ]

    # The next night keeps the texts of the clicks it showed (int_clicks_quarantined) and reads
    # from the raw clicks only those it starts to show: a new delivery's bad record, and k6, now
    # before the as-of. A stored text marked here shows which texts were kept.
    (landing / "tracking" / "clicks" / "2025-05.csv").write_text(
        header + "k7,prog_lumen,mira,not-a-time,v7,\n"
    )
    con = connect(warehouse)
    ingest_landing(con, landing)
    con.execute("update intermediate.int_clicks_quarantined set raw_text = 'kept: ' || raw_text")
    con.close()
    rows = quarantined_clicks("2025-07-02")
    assert rows == [
        (march, 3, "kept: k2,prog_lumen,mira,2025-03-01,v2,", "invalid_timestamp"),
        (march, 4, "kept: k3,prog_gone,mira,2025-03-01T10:00:00Z,v3,", "unknown_program_id"),
        (march, 5, "kept: ,prog_lumen,mira,2025-03-01T10:00:00Z,v4,", "missing_key"),
        (march, 6, "kept: k5,prog_lumen,,2025-03-01T10:00:00Z,v5,", "missing_required_field"),
        (march, 7, "k6,prog_gone,mira,2025-07-01T10:00:00Z,v6,", "unknown_program_id"),
        (april, 2, "kept: k2,prog_lumen,mira,2025-03-01,v2,", "invalid_timestamp"),
        (
            "tracking/clicks/2025-05.csv",
            2,
            "k7,prog_lumen,mira,not-a-time,v7,",
            "invalid_timestamp",
        ),
    ]
