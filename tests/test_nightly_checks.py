"""The data tests a night skips (tagged `checked_downstream`, partner_ledger/settle/dbt.py) are
checked the same night by a table next to them: a click line delivered twice stops the night at
`int_clicks_delivered`'s key, and CI runs the skipped tests themselves on real data."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from partner_ledger.io.warehouse import connect
from partner_ledger.settle.dbt import DbtError, dbt_build

NIGHT = "2025-06-01"


def _copy(example_three_nights: Path, tmp_path: Path) -> Path:
    warehouse = tmp_path / "example.duckdb"  # the views name their catalog after the file
    shutil.copyfile(example_three_nights / "warehouse" / "example.duckdb", warehouse)
    return warehouse


def test_the_skipped_tests_pass_on_the_worked_example(
    example_three_nights: Path, tmp_path: Path
) -> None:
    warehouse = _copy(example_three_nights, tmp_path)
    result = dbt_build(
        warehouse,
        NIGHT,
        select="tag:checked_downstream",
        target_dir=tmp_path / "t",
        every_test=True,
    )
    assert result.nodes >= 10  # the clicks and verdicts views' key and not-null tests ran


def test_a_click_line_delivered_twice_stops_the_night(
    example_three_nights: Path, tmp_path: Path
) -> None:
    """Two records with one (delivery, line) in a new delivery: the night's build fails on the
    table's key test, without the view tests it skips."""
    warehouse = _copy(example_three_nights, tmp_path)
    con = connect(warehouse)
    try:
        seq = con.execute("select nextval('raw.delivery_seq')").fetchone()[0]
        row = con.execute("select * from raw.tracking_clicks limit 1").fetchdf()
        row["delivery_seq"] = seq
        con.register("twice", row)
        for _ in range(2):
            con.execute("insert into raw.tracking_clicks select * from twice")
        con.unregister("twice")
    finally:
        con.close()
    with pytest.raises(DbtError) as failed:
        dbt_build(warehouse, NIGHT, target_dir=tmp_path / "t")
    message = str(failed.value)
    assert "primary_key_int_clicks_delivered_delivery_seq__line_no" in message
    assert "int_clicks_validated" not in message  # skipped: the table's test says it


@pytest.mark.parametrize(
    ("rows", "fails"),
    [
        # a customer with no key: its program is required, the key column may be empty
        ([("prog_eur", None)], False),
        ([(None, "c-no-program")], True),
        # two customers without a key in one program repeat the key (nulls group as one value)
        ([("prog_eur", None), ("prog_eur", None)], True),
        ([("prog_eur", "c-twice"), ("prog_eur", "c-twice")], True),
    ],
)
def test_primary_key_with_a_nullable_column(
    example_three_nights: Path, tmp_path: Path, rows: list, fails: bool
) -> None:
    """`primary_key(columns=..., nullable=...)` (macros/test_primary_key.sql), run by dbt on
    int_customers_identified's rows: a null is allowed only in the columns named nullable, and a
    repeated key fails whether or not it holds a null."""
    warehouse = _copy(example_three_nights, tmp_path)
    con = connect(warehouse)
    try:
        # customer_id as the model writes it (group_text): the program, '|', the key or ''
        con.executemany(
            "insert into intermediate.int_customers_identified "
            "(program_id, customer_key, customer_id) "
            "values ($1, $2, coalesce($1, '') || '|' || coalesce($2, ''))",
            rows,
        )
    finally:
        con.close()
    select = "test_name:primary_key,int_customers_identified"
    if not fails:
        assert dbt_build(warehouse, NIGHT, select=select, target_dir=tmp_path / "t").nodes == 1
        return
    with pytest.raises(DbtError) as failed:
        dbt_build(warehouse, NIGHT, select=select, target_dir=tmp_path / "t")
    assert "primary_key_int_customers_identified" in str(failed.value)
