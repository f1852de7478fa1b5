"""Clicks, vectorised and written in chunks of at most ~1M rows."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from partner_ledger.demo.context import _add_months, _csv_line, _Ctx, _open_out, _ts, iso
from partner_ledger.demo.journeys import _start_date
from partner_ledger.demo.shape import (
    CLICK_CHUNK_ROWS,
    DAY,
    HOUR,
    HOUR_PROFILE,
    LANDING_PATHS,
    NEVER,
    PROGRAMS,
    TRACKING_HEADERS,
    UNKNOWN_CODES,
    WEEKEND_FACTOR,
)


@dataclass(frozen=True)
class _ClickTables:
    """Per-partner arrays the vectorised click generator gathers from."""

    joined: np.ndarray
    stop: np.ndarray
    cumulative: np.ndarray
    program: pl.Series
    domain: pl.Series
    code: pl.Series
    rate_per_day: float


def _click_tables(ctx: _Ctx) -> _ClickTables:
    weights = np.zeros(len(ctx.partners))
    for shape in PROGRAMS:
        members = [p.idx for p in ctx.partners if p.shape is shape]
        total = sum(ctx.partners[i].weight for i in members)
        for i in members:
            weights[i] = ctx.partners[i].weight / total * shape.clicks_per_day
    return _ClickTables(
        joined=np.array([p.joined_ts for p in ctx.partners], dtype=np.int64),
        stop=np.array([min(p.stop_ts, NEVER) for p in ctx.partners], dtype=np.int64),
        cumulative=np.cumsum(weights),
        program=pl.Series([p.shape.program_id for p in ctx.partners], dtype=pl.String),
        domain=pl.Series([p.shape.domain for p in ctx.partners], dtype=pl.String),
        code=pl.Series([p.code for p in ctx.partners], dtype=pl.String),
        rate_per_day=float(sum(s.clicks_per_day for s in PROGRAMS) * ctx.scale),
    )


def _acceptance(ts: np.ndarray) -> np.ndarray:
    hours = (ts % DAY) // HOUR
    weekday = ((ts // DAY) + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
    return np.asarray(HOUR_PROFILE)[hours] * np.where(weekday >= 5, WEEKEND_FACTOR, 1.0)


def _mean_acceptance() -> float:
    return float(np.mean(HOUR_PROFILE)) * (5 + 2 * WEEKEND_FACTOR) / 7


def _background_clicks(
    gen: np.random.Generator, tables: _ClickTables, lo: int, hi: int, growth: float, pool: int
) -> pl.DataFrame:
    """Clicks of all partners in [lo, hi): intensity by hour and weekday, popularity-weighted."""
    expected = tables.rate_per_day * (hi - lo) / DAY * growth / _mean_acceptance()
    n = int(gen.poisson(expected))
    ts = gen.integers(lo, hi, n, dtype=np.int64)
    partner = np.searchsorted(
        tables.cumulative, gen.random(n) * tables.cumulative[-1], side="right"
    )
    partner = np.minimum(partner, len(tables.cumulative) - 1)
    keep = gen.random(n) < _acceptance(ts)
    keep &= ts >= tables.joined[partner]
    keep &= (ts < tables.stop[partner]) | (gen.random(n) < 0.1)
    m = int(keep.sum())
    return pl.DataFrame(
        {
            "ts": ts[keep],
            "partner": partner[keep].astype(np.int64),
            "visitor": gen.integers(0, pool, m, dtype=np.int64),
            "journey": np.full(m, -1, dtype=np.int64),
            "path": gen.integers(0, len(LANDING_PATHS), m, dtype=np.int64),
            "utm": gen.random(m) < 0.3,
            "offset": gen.random(m) < 0.08,
            "unknown": np.where(gen.random(m) < 0.0015, gen.integers(0, len(UNKNOWN_CODES), m), -1),
            "bad": np.where(gen.random(m) < 0.002, gen.integers(0, 4, m), -1),
        }
    )


@dataclass(frozen=True)
class _JourneyClicks:
    """The converting clicks of the journeys, sorted by time, as arrays."""

    ts: np.ndarray
    partner: np.ndarray
    visitor: np.ndarray
    index: np.ndarray  # position in ctx.jc_* (what the signup refers to)

    @classmethod
    def of(cls, ctx: _Ctx) -> _JourneyClicks:
        ts = np.asarray(ctx.jc_ts, dtype=np.int64)
        order = np.argsort(ts, kind="stable")
        return cls(
            ts=ts[order],
            partner=np.asarray(ctx.jc_partner, dtype=np.int64)[order],
            visitor=np.asarray(ctx.jc_visitor, dtype=np.int64)[order],
            index=order.astype(np.int64),
        )

    def frame(self, gen: np.random.Generator, lo: int, hi: int) -> pl.DataFrame:
        """The clicks in [lo, hi), in the columns of ``_background_clicks``."""
        rows = slice(np.searchsorted(self.ts, lo), np.searchsorted(self.ts, hi))
        m = len(self.ts[rows])
        return pl.DataFrame(
            {
                "ts": self.ts[rows],
                "partner": self.partner[rows],
                "visitor": self.visitor[rows],
                "journey": self.index[rows],
                "path": gen.integers(0, len(LANDING_PATHS), m, dtype=np.int64),
                "utm": gen.random(m) < 0.3,
                "offset": gen.random(m) < 0.08,
                "unknown": np.full(m, -1, dtype=np.int64),
                "bad": np.full(m, -1, dtype=np.int64),
            }
        )


def _format_clicks(frame: pl.DataFrame, tables: _ClickTables, first_number: int) -> pl.DataFrame:
    """The CSV columns of a chunk, numbered in order; ``bad`` rows (0-3) corrupted on purpose."""
    partner = frame["partner"]
    moment = pl.from_epoch("ts", time_unit="s")
    code = (
        pl.when(pl.col("unknown") >= 0)
        .then(
            pl.col("unknown").replace_strict(
                list(range(len(UNKNOWN_CODES))), list(UNKNOWN_CODES), default=""
            )
        )
        .otherwise(pl.col("code"))
    )
    path = pl.col("path").replace_strict(list(range(len(LANDING_PATHS))), list(LANDING_PATHS))
    scrambled = (pl.col("visitor") * 2654435761 + 48271) % 10**10
    return frame.with_columns(
        number=pl.int_range(pl.len(), dtype=pl.Int64) + first_number,
        program_id=tables.program.gather(partner),
        domain=tables.domain.gather(partner),
        code=tables.code.gather(partner),
    ).select(
        click_id=pl.when(pl.col("bad") == 2)
        .then(pl.lit(""))
        .otherwise(pl.concat_str(pl.lit("clk_"), pl.col("number").cast(pl.String).str.zfill(10))),
        program_id=pl.when(pl.col("bad") == 3)
        .then(pl.lit("prog_legacy"))
        .otherwise(pl.col("program_id")),
        partner_code=code,
        occurred_at=pl.when(pl.col("bad") == 0)
        .then(moment.dt.strftime("%Y-%m-%d %H:%M:%S"))
        .when(pl.col("bad") == 1)
        .then(moment.dt.strftime("%Y-%m-%d"))
        .when(pl.col("offset"))
        .then((moment + pl.duration(hours=2)).dt.strftime("%Y-%m-%dT%H:%M:%S+02:00"))
        .otherwise(moment.dt.strftime("%Y-%m-%dT%H:%M:%SZ")),
        visitor_id=pl.concat_str(pl.lit("v_"), scrambled.cast(pl.String).str.zfill(10)),
        landing_url=pl.concat_str(
            pl.lit("https://"),
            pl.col("domain"),
            path,
            pl.lit("?aff="),
            code,
            pl.when(pl.col("utm"))
            .then(pl.lit("&utm_source=partner&utm_medium=affiliate"))
            .otherwise(pl.lit("")),
        ),
        journey=pl.col("journey"),
        number=pl.col("number"),
        bad=pl.col("bad"),
        ts=pl.col("ts"),
    )


def _ragged_click_lines(
    gen: np.random.Generator, tables: _ClickTables, lo: int, hi: int, k: int
) -> list[str]:
    """Rows with a wrong number of fields (a producer that dropped or added a column)."""
    lines = []
    for j in range(k):
        ts = int(gen.integers(lo, hi))
        partner = int(gen.integers(0, len(tables.code)))
        base = [f"clk_x{ts}{j}", tables.program[partner], tables.code[partner], iso(ts)]
        lines.append(
            _csv_line(base if j % 2 == 0 else [*base, "v_0", "https://x.example/", "extra"])
        )
    return lines


def _click_chunk(
    ctx: _Ctx,
    gen: np.random.Generator,
    tables: _ClickTables,
    journeys: _JourneyClicks,
    span: tuple[int, int],
    growth: float,
    first_number: int,
) -> pl.DataFrame:
    """All clicks of [lo, hi), background and converting, in time order, numbered from
    ``first_number``."""
    lo, hi = span
    chunk = pl.concat(
        [
            _background_clicks(gen, tables, lo, hi, growth, ctx.visitor_pool),
            journeys.frame(gen, lo, hi),
        ]
    )
    chunk = chunk.with_columns(seq=pl.int_range(pl.len())).sort(["ts", "seq"]).drop("seq")
    return _format_clicks(chunk, tables, first_number)


def _write_clicks(ctx: _Ctx) -> None:
    """Month files ``clicks/YYYY-MM.csv`` (every fourth month gzipped) and ``<year>-late.csv``.

    Clicks during a 36-hour tracking outage in the third month reach the landing directory only
    in the late file, with their original timestamps (converting clicks included). The export
    overlaps: each month file begins with the previous month's last two hours of clicks again,
    unchanged (SPEC §1.1: the newest delivery of a click id is its version). Each month is
    generated in slices of at most ``CLICK_CHUNK_ROWS`` rows, appended to its file.
    """
    gen = np.random.default_rng([ctx.seed, ctx.scale, 7])
    tables = _click_tables(ctx)
    journeys = _JourneyClicks.of(ctx)
    start = _start_date(ctx)
    outage_lo = _ts(_add_months(start, min(2, ctx.months - 1))) + 10 * DAY + 6 * HOUR
    in_outage = (pl.col("ts") >= outage_lo) & (pl.col("ts") < outage_lo + 36 * HOUR)
    columns = list(TRACKING_HEADERS["clicks"])
    click_numbers = np.full(len(ctx.jc_ts), -1, dtype=np.int64)
    number = 1
    folder = ctx.landing / "tracking" / "clicks"
    overlap = pl.DataFrame()
    with _open_out(folder / f"{start.year}-late.csv") as late:
        late.write(_csv_line(columns).encode())
        for m in range(ctx.months):
            lo, hi = _ts(_add_months(start, m)), _ts(_add_months(start, m + 1))
            growth = 0.85 + 0.3 * m / max(1, ctx.months - 1)
            slices = max(1, math.ceil(tables.rate_per_day * (hi - lo) / DAY / CLICK_CHUNK_ROWS))
            suffix = ".csv.gz" if m % 4 == 3 else ".csv"
            with _open_out(folder / f"{_add_months(start, m):%Y-%m}{suffix}") as out:
                out.write(_csv_line(columns).encode())
                if overlap.height:
                    overlap.select(columns).write_csv(out, include_header=False)
                    ctx.add("redelivered_clicks", overlap.height)
                for k in range(slices):
                    span = (lo + (hi - lo) * k // slices, lo + (hi - lo) * (k + 1) // slices)
                    rows = _click_chunk(ctx, gen, tables, journeys, span, growth, number)
                    number += rows.height
                    converting = rows.filter(pl.col("journey") >= 0)
                    click_numbers[converting["journey"].to_numpy()] = converting[
                        "number"
                    ].to_numpy()
                    rows.filter(~in_outage).select(columns).write_csv(out, include_header=False)
                    delayed = rows.filter(in_outage)
                    delayed.select(columns).write_csv(late, include_header=False)
                    ragged = _ragged_click_lines(gen, tables, *span, max(1, rows.height // 5000))
                    out.write("".join(ragged).encode())
                    bad = int((rows["bad"] >= 0).sum())
                    ctx.add("malformed_rows", bad + len(ragged))
                    ctx.add("clicks", rows.height - bad)
                    ctx.add("late_clicks", int((delayed["bad"] < 0).sum()))
                overlap = rows.filter(
                    ~in_outage & (pl.col("bad") < 0) & (pl.col("ts") >= hi - 2 * HOUR)
                )
            ctx.add("files")
    ctx.add("files")
    ctx.jc_click_id = [f"clk_{n:010d}" if n >= 0 else "" for n in click_numbers.tolist()]
