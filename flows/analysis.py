"""What the notebooks share: paths relative to the project and a read-only warehouse."""

from __future__ import annotations

from pathlib import Path

import duckdb
import polars as pl

from flows.dbt import PROJECT_DIR


def resolve(path: str | Path) -> Path:
    """A notebook parameter's path: absolute as given, else relative to the project root."""
    path = Path(path)
    return path if path.is_absolute() else PROJECT_DIR / path


def open_warehouse(path: str | Path) -> duckdb.DuckDBPyConnection:
    """The warehouse, read-only, so that a notebook never blocks the nightly run."""
    return duckdb.connect(str(resolve(path)), read_only=True)


def query(con: duckdb.DuckDBPyConnection, sql: str, **params: object) -> pl.DataFrame:
    return con.execute(sql, params).pl()
