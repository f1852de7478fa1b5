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
# # Backtest a tier threshold
#
# What would a lower (or higher) tier threshold have cost? The rules folder is copied to a
# temporary folder, one threshold of `tiers.csv` is changed in the copy, and the `backtest` flow
# replays the landing data night by night under the baseline and the candidate rules, in scratch
# warehouses under the report folder (`flows/backtest.py`). The real warehouse is only opened
# read-only, to show where the partners sit against both thresholds; the real warehouse and
# payout folder are never written.
#
# The nights replayed are `date_from`, the `nights` cadence between and `date_to`; the report
# covers that window (entries earned from `date_from` to before `date_to`).
# Keep the window short when exploring: every night is a full settlement run, twice. Paths are
# relative to the repository root. The flow runs in Prefect's ephemeral mode unless
# `PREFECT_API_URL` points to a server. Charts are drawn as SVG in the kernel (offline). Each
# section ends by building a small result; the last cell shows them as a table.

# %% tags=["parameters"]
warehouse = "demo_output/warehouse/partner_ledger.duckdb"  # the demo's; read only: thresholds chart
program_id = "prog_eur"
period = "2025-06"  # the month of the thresholds chart
rules = "seeds"  # the baseline rules folder
landing = "landing"
out = "out"  # the real payout folder: never written by the backtest
report_dir = None  # default: a new temporary folder
date_from = "2025-02-01"
date_to = "2025-04-01"
nights = "monthly"
tier = "silver"  # the tier of program_id whose threshold changes
min_customers = 3  # candidate min_customers (None: unchanged)
min_revenue_cents = None  # candidate min_revenue_cents (None: unchanged)
output_dir = None  # a folder: the charts are also saved there as SVG

# %%
# ruff: noqa: E402, B018 (notebook: imports follow the parameters cell; bare expressions display)
import shutil
import tempfile
from datetime import date
from pathlib import Path

import altair as alt
import polars as pl

from flows.backtest import backtest_flow

alt.data_transformers.disable_max_rows()

from partner_ledger.analysis import (
    enable_offline_charts,
    money_axis,
    open_warehouse,
    resolve,
    save_charts,
    summary_table,
)

enable_offline_charts()

charts: dict[str, alt.TopLevelMixin] = {}
summary: dict[str, object] = {"program_id": program_id, "tier": tier}

# %% [markdown]
# ## The candidate rules: one threshold changed in a copy

# %%
workspace = Path(tempfile.mkdtemp(prefix="backtest_tier_rule_"))
report = resolve(report_dir) if report_dir is not None else workspace / "report"
candidate_rules = workspace / "candidate_rules"
shutil.copytree(resolve(rules), candidate_rules)

# every column read as text, so the rows not changed are written back exactly as they were
tiers = pl.read_csv(candidate_rules / "tiers.csv", infer_schema=False)
selected = (pl.col("program_id") == program_id) & (pl.col("tier") == tier)
if tiers.filter(selected).height != 1:
    raise ValueError(f"{rules}/tiers.csv has no tier {tier!r} for {program_id}")
changes = {
    column: str(value)
    for column, value in {
        "min_customers": min_customers,
        "min_revenue_cents": min_revenue_cents,
    }.items()
    if value is not None
}
candidate_tiers = tiers.with_columns(
    pl.when(selected).then(pl.lit(value)).otherwise(pl.col(column)).alias(column)
    for column, value in changes.items()
)
candidate_tiers.write_csv(candidate_rules / "tiers.csv")
summary["threshold"] = {
    "baseline": tiers.filter(selected).row(0, named=True),
    "candidate": candidate_tiers.filter(selected).row(0, named=True),
}
pl.concat(
    [
        tiers.filter(pl.col("program_id") == program_id).with_columns(rules=pl.lit("baseline")),
        candidate_tiers.filter(pl.col("program_id") == program_id).with_columns(
            rules=pl.lit("candidate")
        ),
    ]
)

# %% [markdown]
# ## Where the partners sit (real warehouse, read-only)
#
# Customers and revenue per partner for `period` as evaluated by the last run, against the
# baseline and candidate thresholds of the tier. `fct_partner_tiers_monthly` measures them over
# the lookback of the tier each partner got: where tiers have different `lookback_days` (as in
# prog_usd), a partner's distance to another tier's threshold is only approximate here.

# %%
con = open_warehouse(warehouse)
currency = con.execute(
    "select any_value(currency) from fct_payout_batches where program_id = ?", [program_id]
).fetchone()[0]
try:
    partner_months = con.execute(
        """
        select partner_id, month, tier, customers_count, cast(revenue_cents as double) as revenue_cents
        from fct_partner_tiers_monthly
        where program_id = $program_id and month = $period
        """,
        {"program_id": program_id, "period": period},
    ).pl()
finally:
    con.close()
thresholds = pl.DataFrame(
    [
        {
            "rules": side,
            "min_customers": int(row["min_customers"]),
            "min_revenue_cents": int(row["min_revenue_cents"]),
        }
        for side, row in summary["threshold"].items()
    ]
)
points = (
    alt.Chart(partner_months)
    .mark_circle()
    .encode(
        x=alt.X("customers_count:Q", title="customers in the lookback"),
        y=alt.Y("revenue_cents:Q", axis=money_axis("revenue in the lookback", currency)),
        color=alt.Color("tier:N", title=f"tier in {period}"),
        tooltip=["partner_id", "tier", "customers_count", "revenue_cents"],
    )
)
rule_x = (
    alt.Chart(thresholds)
    .mark_rule(strokeDash=[4, 4])
    .encode(x="min_customers:Q", strokeOpacity=alt.value(0.6), detail="rules:N")
)
rule_y = (
    alt.Chart(thresholds)
    .mark_rule(strokeDash=[4, 4])
    .encode(y="min_revenue_cents:Q", strokeOpacity=alt.value(0.6), detail="rules:N")
)
charts["thresholds"] = (points + rule_x + rule_y).properties(
    title=f"{program_id} {period}: partners against the {tier} thresholds (dashed)"
)
summary["partners_in_period"] = partner_months.height
charts["thresholds"]

# %% [markdown]
# ## The backtest
#
# The report folder (its path ends the headline) keeps the report tables as CSV and Parquet and
# the two scratch warehouses; delete it when done.

# %%
result = backtest_flow(
    candidate_rules=candidate_rules,
    date_from=date.fromisoformat(date_from),
    date_to=date.fromisoformat(date_to),
    landing=resolve(landing),
    warehouse=resolve(warehouse),
    out=resolve(out),
    report=report,
    baseline_rules=resolve(rules),
    nights=nights,
)
summary["nights"] = result["nights"]
summary["headline"] = result["headline"]
print(result["headline"])

# %% [markdown]
# ## Baseline against candidate


# %%
def read_report(name: str) -> pl.DataFrame:
    return pl.read_parquet(report / f"{name}.parquet").filter(pl.col("program_id") == program_id)


by_month = read_report("by_month")
by_partner = read_report("by_partner")
by_tier = read_report("by_tier")
payouts = read_report("payouts")
tier_changes = read_report("tier_changes")

charts["cost_by_month"] = (
    alt.Chart(
        by_month.unpivot(
            index=["month", "currency"],
            on=["baseline_cents", "candidate_cents"],
            variable_name="rules",
            value_name="cost_cents",
        ).with_columns(pl.col("rules").str.replace("_cents", ""))
    )
    .mark_bar()
    .encode(
        x=alt.X("month:O"),
        xOffset=alt.XOffset("rules:N"),
        y=alt.Y("cost_cents:Q", axis=money_axis("commission cost", currency)),
        color=alt.Color("rules:N"),
        tooltip=["month", "rules", "cost_cents", "currency"],
    )
    .properties(title=f"{program_id}: commission cost by month, baseline vs candidate")
)
charts["cost_by_month"]

# %%
charts["difference_by_tier"] = (
    alt.Chart(by_tier)
    .mark_bar()
    .encode(
        x=alt.X("difference_cents:Q", axis=money_axis("candidate − baseline", currency)),
        y=alt.Y("tier:N", title=None),
        tooltip=["tier", "baseline_cents", "candidate_cents", "difference_cents", "ratio"],
    )
    .properties(title=f"{program_id}: change in commission cost by tier")
)
charts["difference_by_tier"]

# %%
moves = tier_changes.with_columns(
    move=pl.concat_str(
        pl.col("baseline_tier").fill_null("(none)"),
        pl.lit(" → "),
        pl.col("candidate_tier").fill_null("(none)"),
    )
)
charts["tier_changes"] = (
    alt.Chart(moves.group_by("month", "move").agg(partners=pl.col("partner_id").n_unique()))
    .mark_bar()
    .encode(
        x=alt.X("month:O"),
        y=alt.Y("partners:Q", title="partners changing tier"),
        color=alt.Color("move:N"),
        tooltip=["month", "move", "partners"],
    )
    .properties(title=f"{program_id}: partners whose tier changes under the candidate")
)
summary["report"] = {
    "folder": str(report),
    "baseline_cents": int(by_partner["baseline_cents"].sum()),
    "candidate_cents": int(by_partner["candidate_cents"].sum()),
    "difference_cents": int(by_partner["difference_cents"].sum()),
    "by_month_baseline_cents": int(by_month["baseline_cents"].sum()),
    "by_month_candidate_cents": int(by_month["candidate_cents"].sum()),
    "by_tier_candidate_cents": int(by_tier["candidate_cents"].sum()),
    "payouts_baseline_cents": int(payouts["baseline_cents"].sum()),
    "payouts_candidate_cents": int(payouts["candidate_cents"].sum()),
    "partners_changing_tier": tier_changes["partner_id"].n_unique(),
    "partner_months_changing_tier": tier_changes.height,
    "moves": moves.group_by("move").agg(partner_months=pl.len()).sort("move").to_dicts(),
    "partners_cost_changed": by_partner.filter(pl.col("difference_cents") != 0).height,
}
charts["tier_changes"]

# %%
by_partner.filter(pl.col("difference_cents") != 0).sort("difference_cents", descending=True)

# %%
summary["charts"] = save_charts(charts, output_dir, "backtest_tier_rule")

# %% [markdown]
# ## Summary

# %%
summary_table(summary)
