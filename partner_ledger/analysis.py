"""What the notebooks share: paths relative to the project, a read-only warehouse, charts that
render offline (SVG drawn locally by vl-convert, no script from a CDN), money axes in currency
units, and the readable summary table each notebook ends with."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from partner_ledger.settle.dbt import PROJECT_DIR


def resolve(path: str | Path) -> Path:
    """A notebook parameter's path: absolute as given, else relative to the project root."""
    path = Path(path)
    return path if path.is_absolute() else PROJECT_DIR / path


def open_warehouse(path: str | Path) -> duckdb.DuckDBPyConnection:
    """The warehouse, read-only, so that a notebook never blocks the nightly run."""
    return duckdb.connect(str(resolve(path)), read_only=True)


def query(con: duckdb.DuckDBPyConnection, sql: str, **params: object) -> pl.DataFrame:
    return con.execute(sql, params).pl()


def enable_offline_charts() -> None:
    """Charts display as SVG drawn in the kernel by vl-convert: Altair's default renderer loads
    Vega from a CDN, so offline (and in any viewer without JavaScript) every chart was blank."""
    import altair as alt

    alt.renderers.enable("svg")


def money_axis(title: str, currency: str, minor_digits: int = 2) -> Any:
    """An axis for integer cents labelled in currency units ("1,234.50"): the data stay exact
    integer cents; only the labels are divided, for reading."""
    import altair as alt

    return alt.Axis(
        title=f"{title} ({currency})",
        labelExpr=f"format(datum.value / {10**minor_digits}, ',.{minor_digits}f')",
    )


def chart_svg(chart: Any) -> str:
    """The chart as an SVG image, drawn locally (vl-convert), for saving or checking."""
    import vl_convert

    return vl_convert.vegalite_to_svg(chart.to_dict())


def svg_marks(svg: str) -> int:
    """How many marks (bars, points, line segments) an SVG chart draws: 0 is a blank chart."""
    return svg.count('role="graphics-symbol"')


def save_charts(
    charts: dict[str, Any], output_dir: str | Path | None, prefix: str
) -> dict[str, int]:
    """Each Altair chart drawn as SVG, saved as ``<output_dir>/<prefix>_<name>.svg`` when an
    output folder is given; returns, per chart, how many marks its image draws."""
    drawn = {name: chart_svg(chart) for name, chart in charts.items()}
    if output_dir is not None:
        target = resolve(output_dir)
        target.mkdir(parents=True, exist_ok=True)
        for name, svg in drawn.items():
            (target / f"{prefix}_{name}.svg").write_text(svg, encoding="utf-8")
    return {name: svg_marks(svg) for name, svg in drawn.items()}


def summary_table(summary: dict[str, Any]) -> pl.DataFrame:
    """A notebook's results as a table to read: one row per figure (section, item, value);
    lists of rows are counted, nested results are flattened one level."""
    rows: list[dict[str, str]] = []

    def add(section: str, item: str, value: Any) -> None:
        if isinstance(value, list):
            value = f"{len(value)} row(s)"
        rows.append({"section": section, "item": item, "value": str(value)})

    for section, value in summary.items():
        if isinstance(value, dict):
            for item, inner in value.items():
                add(section, item, inner)
        else:
            add(section, "", value)
    return pl.DataFrame(rows, schema={"section": pl.String, "item": pl.String, "value": pl.String})
