"""What the notebooks share: paths relative to the project, a read-only warehouse, charts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def save_charts(
    charts: dict[str, Any], output_dir: str | Path | None, prefix: str
) -> dict[str, bool]:
    """Each Altair chart as ``<output_dir>/<prefix>_<name>.html`` (when an output folder is
    given); returns, per chart, whether it validates against the Vega-Lite schema (to_dict()
    checks it)."""
    if output_dir is not None:
        target = resolve(output_dir)
        target.mkdir(parents=True, exist_ok=True)
        for name, chart in charts.items():
            chart.save(str(target / f"{prefix}_{name}.html"))
    return {name: "$schema" in chart.to_dict() for name, chart in charts.items()}
