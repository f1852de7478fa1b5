"""DuckDB's memory cap reaches every connection of a run, not only dbt's (issue 11).

Before, only dbt's profile set `memory_limit`: the run's own connections (the ingest, the stage's
workers) ran with DuckDB's default of 80 % of the machine, and L's cold night peaked at 7.98 GB
while loading its files, against a 4 GB target (benchmarks/RESULTS.md, session 13)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from partner_ledger.io import warehouse
from partner_ledger.io.warehouse import DEFAULT_MEMORY_LIMIT, MEMORY_LIMIT_VARIABLE, connect

PROFILES = Path(__file__).resolve().parent.parent / "profiles.yml"


def _limit(path: Path, read_only: bool = False) -> str:
    con = connect(path, read_only=read_only)
    try:
        return con.execute("select current_setting('memory_limit')").fetchone()[0]
    finally:
        con.close()


def test_every_connection_is_capped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MEMORY_LIMIT_VARIABLE, raising=False)
    assert _limit(tmp_path / "a.duckdb") == "2.7 GiB"  # 3GB, as DuckDB prints it
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, "1GB")
    assert _limit(tmp_path / "b.duckdb") == "953.6 MiB"
    assert _limit(tmp_path / "b.duckdb", read_only=True) == "953.6 MiB"
    # a run's working copy (a second name of the warehouse, held open and shared) too
    run = tmp_path / "wh" / warehouse.WORKING_FOLDER / "wh.duckdb"
    run.parent.mkdir(parents=True)
    connect(tmp_path / "wh" / "wh.duckdb").close()
    run.hardlink_to(tmp_path / "wh" / "wh.duckdb")
    try:
        assert warehouse.holds_checkpoints(run)
        assert _limit(run) == "953.6 MiB"
    finally:
        warehouse.release(run)


@pytest.mark.parametrize("value", ["lots", "3GB'; drop table x; --", "-1GB", "80%"])
def test_a_limit_that_is_not_a_size_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(MEMORY_LIMIT_VARIABLE, value)
    with pytest.raises(ValueError, match=MEMORY_LIMIT_VARIABLE):
        connect(tmp_path / "c.duckdb")


def test_dbt_reads_the_same_variable_and_default() -> None:
    found = re.search(
        r"memory_limit: \"\{\{ env_var\('(\w+)', '([^']+)'\) \}\}\"", PROFILES.read_text()
    )
    assert found is not None
    assert found.groups() == (MEMORY_LIMIT_VARIABLE, DEFAULT_MEMORY_LIMIT)
