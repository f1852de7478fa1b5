# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Payout review: one program, one closed period
#
# What finance signs off before sending a batch: the batch and its lines, the balances carried
# forward and why, the largest lines traced back to the clicks, leads and coupons that earned
# them, the reconciliation totals, and (when `out_dir` is given) a check that the published
# files say what the warehouse says.
#
# Read-only over the marts (`fct_payout_batches`, `fct_payout_lines`, `fct_payout_statements`,
# `fct_ledger_entries`, `dim_customers`): the warehouse is opened `read_only`, so the nightly
# run is never blocked. Paths are relative to the repository root (the default warehouse is the
# one `partner-ledger demo` writes). Charts are drawn as SVG in the kernel, so they render
# offline. Each section ends by building a small result; the last cell shows them as a table.

# %% tags=["parameters"]
warehouse = "demo_output/warehouse/partner_ledger.duckdb"  # where `partner-ledger demo` writes
program_id = "prog_eur"
period = "2025-06"
out_dir = None  # e.g. "out": compare the published files under out/payouts/ with the tables
top_n = 5  # how many of the largest lines to trace back to their touches
output_dir = None  # a folder: the charts are also saved there as SVG

# %%
# ruff: noqa: E402, B018 (notebook: imports follow the parameters cell; bare expressions display)
import hashlib
import json

import altair as alt
import polars as pl

alt.data_transformers.disable_max_rows()

from partner_ledger import analysis
from partner_ledger.analysis import (
    enable_offline_charts,
    money_axis,
    open_warehouse,
    resolve,
    save_charts,
    summary_table,
)

enable_offline_charts()
from partner_ledger.publish.payout_files import PAYOUT_COLUMNS

con = open_warehouse(warehouse)


def query(sql: str, **params) -> pl.DataFrame:
    return analysis.query(con, sql, **params)


charts: dict[str, alt.TopLevelMixin] = {}
summary: dict[str, object] = {"program_id": program_id, "period": period}

# %% [markdown]
# ## The batch

# %%
batch = query(
    "select * from fct_payout_batches where program_id = $program_id and period = $period",
    program_id=program_id,
    period=period,
)
if batch.height != 1:
    raise ValueError(f"no closed batch for {program_id} {period} in {warehouse}")
batch_row = batch.row(0, named=True)
batch_id = batch_row["batch_id"]
currency = batch_row["currency"]
summary["batch"] = {
    key: batch_row[key]
    for key in [
        "batch_id",
        "as_of",
        "currency",
        "row_count",
        "total_cents",
        "carried_count",
        "carried_cents",
        "held_cents",
    ]
}
batch

# %%
lines = query(
    "select * from fct_payout_lines where batch_id = $batch_id order by amount_cents desc, partner_id",
    batch_id=batch_id,
)
statements = query(
    "select * from fct_payout_statements where batch_id = $batch_id order by partner_id",
    batch_id=batch_id,
)
by_method = (
    lines.group_by("payout_method")
    .agg(lines=pl.len(), amount_cents=pl.col("amount_cents").sum())
    .sort("amount_cents", descending=True)
)
charts["lines_by_method"] = (
    alt.Chart(by_method)
    .mark_bar()
    .encode(
        x=alt.X("amount_cents:Q", axis=money_axis("paid", currency)),
        y=alt.Y("payout_method:N", sort="-x", title=None),
        tooltip=["payout_method", "lines", "amount_cents"],
    )
    .properties(title=f"{batch_id}: paid by payout method")
)
summary["lines_by_method"] = by_method.to_dicts()
charts["lines_by_method"]

# %% [markdown]
# ## Balances carried forward, by reason

# %%
carried = (
    statements.filter(pl.col("carried_reason").is_not_null())
    .group_by("carried_reason")
    .agg(partners=pl.len(), carried_cents=pl.col("closing_balance_cents").sum())
    .sort("carried_cents", descending=True)
)
charts["carried_by_reason"] = (
    alt.Chart(carried)
    .mark_bar()
    .encode(
        x=alt.X("carried_cents:Q", axis=money_axis("carried forward", currency)),
        y=alt.Y("carried_reason:N", sort="-x", title=None),
        tooltip=["carried_reason", "partners", "carried_cents"],
    )
    .properties(title=f"{batch_id}: balances carried forward")
)
summary["carried_by_reason"] = carried.to_dicts()
charts["carried_by_reason"]

# %% [markdown]
# ## The largest lines, traced back to their touches
#
# A paid line pays the partner's opening balance (carried from earlier closes) plus the entries
# this close settles. Each ledger entry names the close that settled it (`settled_batch_id`)
# and the line that paid it (`paid_batch_id`); the statement's commission/referral/clawback/
# adjustment columns are checked against the settled entries here (and every night by dbt).

# %%
settled = query(
    """
    select entries.*
    from fct_ledger_entries as entries
    where entries.settled_batch_id = $batch_id and entries.entry_type != 'payout'
    """,
    batch_id=batch_id,
)
settled_by_partner = settled.group_by("partner_id").agg(
    commission_cents=pl.col("amount_cents").filter(pl.col("entry_type") == "commission").sum(),
    referral_commission_cents=pl.col("amount_cents")
    .filter(pl.col("entry_type") == "referral_commission")
    .sum(),
    clawback_cents=pl.col("amount_cents")
    .filter(pl.col("entry_type").is_in(["clawback", "referral_clawback"]))
    .sum(),
    adjustment_cents=pl.col("amount_cents").filter(pl.col("entry_type") == "adjustment").sum(),
)
activity = ["commission_cents", "referral_commission_cents", "clawback_cents", "adjustment_cents"]
statement_activity = statements.select("partner_id", *activity).filter(
    pl.sum_horizontal(pl.col(activity).abs()) != 0
)
lookup_mismatches = (
    statement_activity.join(settled_by_partner, on="partner_id", how="full", coalesce=True)
    .fill_null(0)
    .filter(pl.any_horizontal(pl.col(name) != pl.col(f"{name}_right") for name in activity))
)
lookup_mismatches

# %%
winners = query(
    """
    select program_id, customer_key, winning_touch_source as touch_source,
        winning_touch_id as touch_id, winning_touched_at as touched_at, converted_at,
        partner_id as touch_partner_id
    from dim_customers
    where program_id = $program_id and is_attributed
    """,
    program_id=program_id,
)
top_lines = lines.head(top_n).select("partner_id", "partner_name", "amount_cents")
trace = (
    settled.join(top_lines.select("partner_id"), on="partner_id")
    .join(
        winners.rename({name: f"winner_{name}" for name in winners.columns[2:]}),
        on=["program_id", "customer_key"],
        how="left",
    )
    .join(lines.select("partner_id", "partner_name"), on="partner_id", how="left")
    .select(
        "partner_id",
        "partner_name",
        "entry_type",
        "amount_cents",
        "earned_at",
        "customer_key",
        "referred_partner_id",
        "paid_event_type",
        "paid_event_id",
        "tier",
        "phase",
        "month_number",
        "rate_bps",
        "touch_source",
        "touch_id",
        "winner_touch_source",
        "winner_touch_id",
        "winner_touched_at",
        "winner_converted_at",
    )
    .sort(["partner_id", "earned_at", "entry_type"])
)
# a line = its opening balance + the entries it settles (a paid line closes at 0)
line_trace = (
    top_lines.join(
        statements.select("partner_id", "opening_balance_cents", "closing_balance_cents"),
        on="partner_id",
        how="left",
    )
    .join(
        trace.group_by("partner_id").agg(
            traced_entries=pl.len(),
            traced_cents=pl.col("amount_cents").sum(),
            customers=pl.col("customer_key").n_unique(),
            touches_by_source=pl.col("winner_touch_source").drop_nulls().unique().sort(),
        ),
        on="partner_id",
        how="left",
    )
    .with_columns(
        explained=pl.col("opening_balance_cents") + pl.col("traced_cents") == pl.col("amount_cents")
    )
)
summary["trace"] = {
    "lookup_matches_statements": lookup_mismatches.height == 0,
    "lines": line_trace.with_columns(pl.col("touches_by_source").list.join(",")).to_dicts(),
    "entries_traced": trace.height,
    "entries_without_winning_touch": trace.filter(
        pl.col("customer_key").is_not_null() & pl.col("winner_touch_id").is_null()
    ).height,
    "entries_touch_differs_from_winner": trace.filter(
        pl.col("touch_id").is_not_null() & (pl.col("touch_id") != pl.col("winner_touch_id"))
    ).height,
}
line_trace

# %%
trace

# %%
charts["top_lines_trace"] = (
    alt.Chart(
        trace.group_by(["partner_name", "entry_type", "winner_touch_source"]).agg(
            amount_cents=pl.col("amount_cents").sum()
        )
    )
    .mark_bar()
    .encode(
        x=alt.X("amount_cents:Q", axis=money_axis(f"settled in {period}", currency)),
        y=alt.Y("partner_name:N", title=None),
        color=alt.Color("winner_touch_source:N", title="winning touch"),
        tooltip=["partner_name", "entry_type", "winner_touch_source", "amount_cents"],
    )
    .properties(title=f"{batch_id}: the {top_n} largest lines by the touch that earned them")
)
charts["top_lines_trace"]

# %% [markdown]
# ## Reconciliation
#
# batch total = Σ lines = −Σ payout ledger entries of the batch = Σ statement payouts; each
# statement: opening + commission + referral commission + clawback + adjustment − payout =
# closing; each opening is the partner's previous closing.

# %%
payout_entries = query(
    """
    select cast(coalesce(-sum(amount_cents), 0) as bigint) as cents, count(*) as entries
    from fct_ledger_entries where entry_type = 'payout' and batch_id = $batch_id
    """,
    batch_id=batch_id,
).row(0, named=True)
previous_closing = query(
    """
    select partner_id, arg_max(closing_balance_cents, period) as previous_closing_cents
    from fct_payout_statements
    where program_id = $program_id and period < $period
    group by partner_id
    """,
    program_id=program_id,
    period=period,
)
identity_breaks = statements.filter(
    pl.col("opening_balance_cents") + pl.sum_horizontal(activity) - pl.col("payout_cents")
    != pl.col("closing_balance_cents")
)
chain_breaks = statements.join(previous_closing, on="partner_id", how="left").filter(
    pl.col("opening_balance_cents") != pl.col("previous_closing_cents").fill_null(0)
)
reconciliation = {
    "batch_total_cents": batch_row["total_cents"],
    "lines_total_cents": int(lines["amount_cents"].sum()),
    "payout_entries_total_cents": int(payout_entries["cents"]),
    "statements_payout_cents": int(statements["payout_cents"].sum()),
    "batch_row_count": batch_row["row_count"],
    "lines_count": lines.height,
    "payout_entries_count": int(payout_entries["entries"]),
    "batch_carried_cents": batch_row["carried_cents"],
    "statements_carried_cents": int(
        statements.filter(pl.col("carried_reason").is_not_null())["closing_balance_cents"].sum()
    ),
    "batch_held_cents": batch_row["held_cents"],
    "statements_held_cents": int(statements["held_cents"].sum()),
    "statement_identity_breaks": identity_breaks.height,
    "opening_not_previous_closing": chain_breaks.height,
}
reconciliation["totals_agree"] = (
    reconciliation["batch_total_cents"]
    == reconciliation["lines_total_cents"]
    == reconciliation["payout_entries_total_cents"]
    == reconciliation["statements_payout_cents"]
    and reconciliation["batch_row_count"]
    == reconciliation["lines_count"]
    == reconciliation["payout_entries_count"]
    and reconciliation["batch_carried_cents"] == reconciliation["statements_carried_cents"]
    and reconciliation["batch_held_cents"] == reconciliation["statements_held_cents"]
)
reconciliation["statements_hold"] = identity_breaks.height == 0 and chain_breaks.height == 0
summary["reconciliation"] = reconciliation
reconciliation

# %% [markdown]
# ## The published files (when `out_dir` is given)
#
# `payouts.csv`, `payouts.parquet` and `statements.csv` field by field against the tables, the
# manifest's totals against the batch, and every file's sha256 against the manifest.

# %%
files_check: dict[str, object] | None = None
if out_dir is not None:
    folder = resolve(out_dir) / "payouts" / program_id / period
    manifest = json.loads((folder / "manifest.json").read_text())
    payout_columns = PAYOUT_COLUMNS
    statement_columns = [
        "partner_id",
        "opening_balance_cents",
        *activity,
        "payout_cents",
        "closing_balance_cents",
        "held_cents",
        "carried_reason",
    ]

    def as_text(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
        return frame.select(pl.col(columns).cast(pl.String)).sort("partner_id")

    payouts_csv = pl.read_csv(folder / "payouts.csv", infer_schema=False)
    payouts_parquet = pl.read_parquet(folder / "payouts.parquet")
    statements_csv = pl.read_csv(folder / "statements.csv", infer_schema=False)
    files_check = {
        "folder": str(folder),
        "payouts_csv_matches": payouts_csv.columns == payout_columns
        and as_text(payouts_csv, payout_columns).equals(as_text(lines, payout_columns)),
        "payouts_parquet_matches": payouts_parquet.columns == payout_columns
        and as_text(payouts_parquet, payout_columns).equals(as_text(lines, payout_columns)),
        "statements_csv_matches": statements_csv.columns == statement_columns
        and as_text(statements_csv, statement_columns).equals(
            as_text(statements, statement_columns)
        ),
        "manifest_matches": manifest["batch_id"] == batch_id
        and manifest["row_count"] == batch_row["row_count"]
        and manifest["total_cents"] == batch_row["total_cents"]
        and manifest["currency"] == currency
        and manifest["as_of"] == str(batch_row["as_of"]),
        "hashes_match": all(
            hashlib.sha256((folder / name).read_bytes()).hexdigest() == digest
            for name, digest in manifest["files"].items()
        ),
        "files": sorted(manifest["files"]),
    }
    files_check["all_match"] = all(
        files_check[key]
        for key in [
            "payouts_csv_matches",
            "payouts_parquet_matches",
            "statements_csv_matches",
            "manifest_matches",
            "hashes_match",
        ]
    )
summary["files"] = files_check
files_check

# %%
summary["charts"] = save_charts(charts, output_dir, "payout_review")
con.close()

# %% [markdown]
# ## Summary

# %%
summary_table(summary)
