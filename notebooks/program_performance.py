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
# # Program performance
#
# One program, from its first month through `period`: the funnel (clicks → signups → paying
# customers) by partner and by the source of the winning touch, earnings per click, revenue (the
# commission basis, program currency) and commission by month, tier and phase, the clawback rate,
# the top partners, and cohort curves by the customer's month number.
#
# Read-only over the warehouse (`duckdb.connect(..., read_only=True)`): the marts, plus the
# intermediate models that hold what no mart exposes yet (clicks, signups, paid events with their
# basis). Money is kept in the program's minor units (`*_cents`) and charted in currency units;
# charts are drawn as SVG in the kernel, so they render offline. Paths are relative to the
# repository root. Each section ends by building a small result; the last cell shows them as a
# table.

# %% tags=["parameters"]
warehouse = "demo_output/warehouse/partner_ledger.duckdb"  # where `partner-ledger demo` writes
program_id = "prog_eur"
period = "2025-06"  # the last month shown (everything before its end)
top_n = 10
output_dir = None  # a folder: the charts are also saved there as SVG

# %%
# ruff: noqa: E402, B018 (notebook: imports follow the parameters cell; bare expressions display)
from datetime import date

import altair as alt
import polars as pl
import polars.selectors as cs

alt.data_transformers.disable_max_rows()

from partner_ledger import analysis
from partner_ledger.analysis import (
    enable_offline_charts,
    money_axis,
    open_warehouse,
    save_charts,
    summary_table,
)

enable_offline_charts()

con = open_warehouse(warehouse)


def query(sql: str, **params) -> pl.DataFrame:
    return analysis.query(con, sql, **params)


year, month = map(int, period.split("-"))
period_end = date(year + month // 12, month % 12 + 1, 1)  # the first instant after `period`
program = query(
    "select program_id, program_name, currency from staging.stg_rules__programs "
    "where program_id = $program_id",
    program_id=program_id,
)
if program.height != 1:
    raise ValueError(f"unknown program {program_id} in {warehouse}")
currency = program["currency"][0]
COST_TYPES = ["commission", "referral_commission", "clawback", "referral_clawback"]


def charted(frame: pl.DataFrame) -> pl.DataFrame:
    """Exact decimal cents as floats: what a chart can serialise."""
    return frame.with_columns(cs.decimal().cast(pl.Float64))


def whole_cents(column: pl.Series) -> int:
    return round(float(column.sum()))


charts: dict[str, alt.TopLevelMixin] = {}
summary: dict[str, object] = {
    "program_id": program_id,
    "period": period,
    "currency": currency,
}

# %% [markdown]
# ## The data
#
# One row per customer with the winning partner and touch source (`dim_customers`), paid
# events with their basis and month number (`fct_paid_events`), the ledger's cost entries,
# partners (`dim_partners`), and visible valid clicks mapped to partners by `partner_code`
# (clicks to an unknown code stay unmapped).

# %%
customers = query(
    """
    select
        customer_key,
        signed_up_at,
        first_paid_at,
        strftime(first_paid_at, '%Y-%m') as cohort,
        partner_id,
        coalesce(winning_touch_source, 'unattributed') as source
    from dim_customers
    where program_id = $program_id
        and converted_at < $period_end
    """,
    program_id=program_id,
    period_end=period_end,
)
# basis_cents is in the event's currency; basis_scaled is the exact program-currency basis in
# units of 1 / BASIS_SCALE cent (macros/money.sql, basis_scale()). Checked below on the events
# already in the program's currency, so that a change of the scale fails here, loudly.
BASIS_SCALE = 10**12
scale_breaks = query(
    """
    select count(*) as events from fct_paid_events
    where currency = program_currency
        and basis_scaled != cast(basis_cents as hugeint) * $basis_scale
    """,
    basis_scale=BASIS_SCALE,
)["events"][0]
if scale_breaks:
    raise ValueError(f"basis_scaled is not basis_cents × {BASIS_SCALE} on {scale_breaks} events")
events = query(
    """
    select customer_key, paid_event_type, paid_event_id, paid_at,
        strftime(paid_at, '%Y-%m') as month, month_number, currency as event_currency,
        cast(basis_scaled / $basis_scale as decimal(38, 6)) as revenue_cents
    from fct_paid_events
    where program_id = $program_id and paid_at < $period_end
    """,
    program_id=program_id,
    period_end=period_end,
    basis_scale=BASIS_SCALE,
).join(customers.select("customer_key", "partner_id", "source", "cohort"), on="customer_key")
entries = query(
    """
    select entry_type, partner_id, customer_key, paid_event_type, paid_event_id, tier, phase,
        month_number, amount_cents, recorded_at, strftime(earned_at, '%Y-%m') as month
    from fct_ledger_entries
    where program_id = $program_id
        and earned_at < $period_end
        and entry_type in ('commission', 'referral_commission', 'clawback', 'referral_clawback')
    """,
    program_id=program_id,
    period_end=period_end,
)
clicks = query(
    """
    with partners as (
        select partner_id, partner_code from intermediate.int_partners_current
        where program_id = $program_id
    )
    select partners.partner_id, strftime(clicks.occurred_at, '%Y-%m') as month, count(*) as clicks
    from intermediate.int_clicks_validated as clicks
    left join partners on clicks.partner_code = partners.partner_code
    where clicks.program_id = $program_id
        and clicks.is_visible
        and clicks.quarantine_reason is null
        and clicks.occurred_at < $period_end
    group by all
    """,
    program_id=program_id,
    period_end=period_end,
)
partners = query(
    "select partner_id, partner_name, status from dim_partners where program_id = $program_id",
    program_id=program_id,
)
summary["rows"] = {
    "customers": customers.height,
    "paid_events": events.height,
    "cost_entries": entries.height,
    "clicks": int(clicks["clicks"].sum()),
}

# %% [markdown]
# ## Funnel: clicks → signups → paying customers
#
# Customers who converted before the end of `period`, by the partner and the source of their
# winning touch. A customer without a signup converts at the first paid event, so a source can
# have more paying customers than signups (coupons, typically).

# %%
signed_up = pl.col("signed_up_at").is_not_null() & (pl.col("signed_up_at") < period_end)
paying = pl.col("first_paid_at").is_not_null() & (pl.col("first_paid_at") < period_end)
earnings = entries.group_by("partner_id").agg(earnings_cents=pl.col("amount_cents").sum())
funnel_by_partner = (
    partners.join(
        clicks.group_by("partner_id").agg(clicks=pl.col("clicks").sum()),
        on="partner_id",
        how="left",
    )
    .join(
        customers.filter(pl.col("partner_id").is_not_null())
        .group_by("partner_id")
        .agg(signups=signed_up.sum(), paying_customers=paying.sum()),
        on="partner_id",
        how="left",
    )
    .join(earnings, on="partner_id", how="left")
    .with_columns(pl.col("clicks", "signups", "paying_customers", "earnings_cents").fill_null(0))
    .with_columns(
        signup_per_click=pl.when(pl.col("clicks") > 0).then(pl.col("signups") / pl.col("clicks")),
        paying_per_signup=pl.when(pl.col("signups") > 0).then(
            pl.col("paying_customers") / pl.col("signups")
        ),
        # earnings per click: commissions and referral commissions net of clawbacks
        epc=pl.when(pl.col("clicks") > 0).then(pl.col("earnings_cents") / pl.col("clicks") / 100),
    )
    .sort("earnings_cents", descending=True)
)
funnel_by_source = (
    customers.group_by("source")
    .agg(signups=signed_up.sum(), paying_customers=paying.sum())
    .join(
        events.group_by("source").agg(pl.col("revenue_cents").sum()),
        on="source",
        how="left",
    )
    .with_columns(
        # clicks only lead to click-won customers; other sources have no click count
        clicks=pl.when(pl.col("source") == "click").then(pl.lit(int(clicks["clicks"].sum()))),
        paying_per_signup=pl.col("paying_customers") / pl.col("signups"),
    )
    .pipe(charted)
    .sort("signups", descending=True)
)
funnel_totals = {
    "clicks": int(clicks["clicks"].sum()),
    "clicks_to_known_partners": int(
        clicks.filter(pl.col("partner_id").is_not_null())["clicks"].sum()
    ),
    "signups": int(customers.select(signed_up.sum()).item()),
    "paying_customers": int(customers.select(paying.sum()).item()),
    "attributed_signups": int(funnel_by_partner["signups"].sum()),
    "attributed_paying_customers": int(funnel_by_partner["paying_customers"].sum()),
}
funnel_totals["epc"] = (
    round(
        int(earnings["earnings_cents"].sum()) / funnel_totals["clicks_to_known_partners"] / 100, 4
    )
    if funnel_totals["clicks_to_known_partners"]
    else None
)
summary["funnel"] = funnel_totals
summary["funnel_by_source"] = funnel_by_source.to_dicts()
funnel_by_source

# %%
stages = ["signups", "paying_customers"]
charts["funnel_by_source"] = (
    alt.Chart(funnel_by_source.unpivot(index="source", on=stages, variable_name="stage"))
    .mark_bar()
    .encode(
        x=alt.X("source:N", title="winning touch source"),
        xOffset=alt.XOffset("stage:N", sort=stages),
        y=alt.Y("value:Q", title="customers"),
        color=alt.Color("stage:N", sort=stages),
        tooltip=["source", "stage", "value"],
    )
    .properties(title=f"{program_id}: signups and paying customers by source, through {period}")
)
charts["funnel_by_source"]

# %%
charts["funnel_by_partner"] = (
    alt.Chart(
        funnel_by_partner.head(top_n).unpivot(
            index=["partner_id", "partner_name"], on=stages, variable_name="stage"
        )
    )
    .mark_bar()
    .encode(
        y=alt.Y("partner_name:N", sort=None, title=None),
        yOffset=alt.YOffset("stage:N", sort=stages),
        x=alt.X("value:Q", title="customers"),
        color=alt.Color("stage:N", sort=stages),
        tooltip=["partner_id", "partner_name", "stage", "value"],
    )
    .properties(title=f"Top {top_n} partners by earnings: signups and paying customers")
)
charts["funnel_by_partner"]

# %% [markdown]
# ## Earnings per click

# %%
with_clicks = funnel_by_partner.filter(pl.col("clicks") > 0)
charts["epc"] = (
    alt.Chart(with_clicks)
    .mark_circle()
    .encode(
        x=alt.X("clicks:Q", scale=alt.Scale(type="log"), title="clicks (log)"),
        y=alt.Y("epc:Q", title=f"earnings per click ({currency})"),
        size=alt.Size("paying_customers:Q", title="paying customers"),
        color=alt.Color("status:N"),
        tooltip=[
            "partner_id",
            "partner_name",
            "clicks",
            "paying_customers",
            "earnings_cents",
            "epc",
        ],
    )
    .properties(title=f"{program_id}: earnings per click by partner")
)
summary["epc_partners"] = with_clicks.height
charts["epc"]

# %% [markdown]
# ## Revenue and commission by month, tier and phase
#
# Revenue is the basis of the paid events of partner-attributed customers (tax excluded,
# program currency); an event's tier and phase are those of its commission entry (events that
# earned none — before the winning touch, outside every phase, a terminated partner — are
# `(no commission)`).

# %%
attributed_events = events.filter(pl.col("partner_id").is_not_null())
event_tiers = (
    entries.filter(pl.col("entry_type") == "commission")
    .group_by("paid_event_type", "paid_event_id")
    .agg(
        tier=pl.col("tier").sort_by("recorded_at").last(),
        phase=pl.col("phase").sort_by("recorded_at").last(),
        commission_cents=pl.col("amount_cents").sum(),
    )
)
revenue = attributed_events.join(
    event_tiers, on=["paid_event_type", "paid_event_id"], how="left"
).with_columns(pl.col("tier", "phase").fill_null("(no commission)"))
cost_by_type = entries.group_by("month").agg(
    commission_cents=pl.col("amount_cents")
    .filter(pl.col("entry_type").is_in(["commission", "referral_commission"]))
    .sum(),
    clawback_cents=pl.col("amount_cents")
    .filter(pl.col("entry_type").is_in(["clawback", "referral_clawback"]))
    .sum(),
)
by_month = (
    events.group_by("month")
    .agg(
        pl.col("revenue_cents").sum(),
        attributed_revenue_cents=pl.col("revenue_cents")
        .filter(pl.col("partner_id").is_not_null())
        .sum(),
    )
    .pipe(charted)
    .join(cost_by_type, on="month", how="full", coalesce=True)
    .fill_null(0)
    .with_columns(
        commission_share=pl.when(pl.col("attributed_revenue_cents") > 0).then(
            pl.col("commission_cents") / pl.col("attributed_revenue_cents")
        ),
        clawback_rate=pl.when(pl.col("commission_cents") != 0).then(
            -pl.col("clawback_cents") / pl.col("commission_cents")
        ),
    )
    .sort("month")
)


def by_dimension(dimension: str) -> pl.DataFrame:
    commission = (
        entries.filter(pl.col("entry_type") == "commission")
        .group_by("month", dimension)
        .agg(commission_cents=pl.col("amount_cents").sum())
    )
    return (
        revenue.group_by("month", dimension)
        .agg(pl.col("revenue_cents").sum())
        .join(commission, on=["month", dimension], how="full", coalesce=True)
        .fill_null(0)
        .sort("month", dimension)
    )


by_tier = by_dimension("tier")
by_phase = by_dimension("phase")
by_month

# %%
month_measures = by_month.unpivot(
    index="month",
    on=["attributed_revenue_cents", "commission_cents", "clawback_cents"],
    variable_name="measure",
    value_name="cents",
).with_columns(pl.col("measure").str.strip_suffix("_cents").str.replace("_", " "))
charts["revenue_commission_by_month"] = (
    alt.Chart(month_measures)
    .mark_line(point=True)
    .encode(
        x=alt.X("month:O"),
        y=alt.Y("cents:Q", axis=money_axis("amount", currency)),
        color=alt.Color("measure:N"),
        tooltip=["month", "measure", "cents"],
    )
    .properties(title=f"{program_id}: attributed revenue, commission and clawbacks by month")
)


def stacked(frame: pl.DataFrame, dimension: str, measure: str, title: str) -> alt.Chart:
    return (
        alt.Chart(charted(frame))
        .mark_bar()
        .encode(
            x=alt.X("month:O"),
            y=alt.Y(f"{measure}:Q", axis=money_axis("amount", currency)),
            color=alt.Color(f"{dimension}:N"),
            tooltip=["month", dimension, measure],
        )
        .properties(title=title, width=280)
    )


charts["by_tier"] = stacked(by_tier, "tier", "revenue_cents", "revenue by tier") | stacked(
    by_tier, "tier", "commission_cents", "commission by tier"
)
charts["by_phase"] = stacked(by_phase, "phase", "revenue_cents", "revenue by phase") | stacked(
    by_phase, "phase", "commission_cents", "commission by phase"
)
commission_total = int(entries.filter(pl.col("entry_type") == "commission")["amount_cents"].sum())
summary["revenue"] = {
    "revenue_cents": whole_cents(events["revenue_cents"]),
    "attributed_revenue_cents": whole_cents(attributed_events["revenue_cents"]),
    "commissioned_revenue_cents": whole_cents(
        revenue.filter(pl.col("tier") != "(no commission)")["revenue_cents"]
    ),
    "foreign_currency_events": events.filter(pl.col("event_currency") != currency).height,
    "commission_cents": commission_total,
    "commission_by_month_cents": int(
        entries.filter(pl.col("entry_type") == "commission")
        .group_by("month")
        .agg(pl.col("amount_cents").sum())["amount_cents"]
        .sum()
    ),
    "commission_by_tier_cents": int(by_tier["commission_cents"].sum()),
    "commission_by_phase_cents": int(by_phase["commission_cents"].sum()),
    "revenue_by_tier_cents": whole_cents(by_tier["revenue_cents"]),
    "revenue_by_phase_cents": whole_cents(by_phase["revenue_cents"]),
    "months": by_month["month"].to_list(),
    "tiers": sorted(by_tier["tier"].unique().to_list()),
    "phases": sorted(by_phase["phase"].unique().to_list()),
}
charts["revenue_commission_by_month"]

# %%
charts["by_tier"] & charts["by_phase"]

# %% [markdown]
# ## Clawback rate
#
# Clawbacks (both kinds, made positive) over commissions (both kinds), by the month the money
# event is dated in: a refund in May of an April sale counts in May.

# %%
commissions_cents = int(by_month["commission_cents"].sum())
clawbacks_cents = int(by_month["clawback_cents"].sum())
charts["clawback_rate"] = (
    alt.Chart(by_month.filter(pl.col("clawback_rate").is_not_null()))
    .mark_line(point=True)
    .encode(
        x=alt.X("month:O"),
        y=alt.Y("clawback_rate:Q", axis=alt.Axis(format="%"), title="clawbacks / commissions"),
        tooltip=["month", "commission_cents", "clawback_cents", "clawback_rate"],
    )
    .properties(title=f"{program_id}: clawback rate by month")
)
summary["clawbacks"] = {
    "commission_cents": commissions_cents,
    "clawback_cents": clawbacks_cents,
    "clawback_rate": round(-clawbacks_cents / commissions_cents, 6) if commissions_cents else None,
}
charts["clawback_rate"]

# %% [markdown]
# ## Top partners

# %%
tiers_in_period = query(
    "select partner_id, tier from fct_partner_tiers_monthly "
    "where program_id = $program_id and month = $period",
    program_id=program_id,
    period=period,
)
clawback_by_partner = entries.group_by("partner_id").agg(
    clawback_cents=pl.col("amount_cents")
    .filter(pl.col("entry_type").is_in(["clawback", "referral_clawback"]))
    .sum(),
)
top_partners = (
    funnel_by_partner.head(top_n)
    .join(tiers_in_period, on="partner_id", how="left")
    .join(clawback_by_partner, on="partner_id", how="left")
    .select(
        "partner_id",
        "partner_name",
        "status",
        "tier",
        "clicks",
        "signups",
        "paying_customers",
        "earnings_cents",
        "clawback_cents",
        "epc",
    )
)
charts["top_partners"] = (
    alt.Chart(top_partners)
    .mark_bar()
    .encode(
        x=alt.X("earnings_cents:Q", axis=money_axis("net earnings", currency)),
        y=alt.Y("partner_name:N", sort="-x", title=None),
        color=alt.Color("tier:N", title=f"tier in {period}"),
        tooltip=top_partners.columns,
    )
    .properties(title=f"{program_id}: top {top_n} partners by net earnings through {period}")
)
summary["top_partners"] = top_partners.select("partner_id", "earnings_cents", "tier").to_dicts()
charts["top_partners"]

# %% [markdown]
# ## Cohorts by first paid month
#
# For partner-attributed customers, revenue and commission by the customer's month number
# (1 = the month of the first paid event), cumulated per customer of the cohort.

# %%
cohort_sizes = (
    customers.filter(pl.col("partner_id").is_not_null() & paying)
    .group_by("cohort")
    .agg(customers=pl.len())
)
cohort_commission = (
    entries.filter(pl.col("entry_type") == "commission")
    .join(customers.select("customer_key", "cohort"), on="customer_key")
    .group_by("cohort", "month_number")
    .agg(commission_cents=pl.col("amount_cents").sum())
)
cohorts = (
    attributed_events.group_by("cohort", "month_number")
    .agg(pl.col("revenue_cents").sum())
    .join(cohort_commission, on=["cohort", "month_number"], how="full", coalesce=True)
    .fill_null(0)
    .join(cohort_sizes, on="cohort")
    .sort("cohort", "month_number")
    .with_columns(
        cumulative_revenue_per_customer=pl.col("revenue_cents").cum_sum().over("cohort")
        / pl.col("customers")
        / 100,
        cumulative_commission_per_customer=pl.col("commission_cents").cum_sum().over("cohort")
        / pl.col("customers")
        / 100,
    )
)
charts["cohorts"] = (
    alt.Chart(charted(cohorts))
    .mark_line(point=True)
    .encode(
        x=alt.X("month_number:O", title="customer month number"),
        y=alt.Y(
            "cumulative_commission_per_customer:Q",
            title=f"cumulative commission per customer ({currency})",
        ),
        color=alt.Color("cohort:O", title="first paid month"),
        tooltip=[
            "cohort",
            "month_number",
            "customers",
            "revenue_cents",
            "commission_cents",
            "cumulative_revenue_per_customer",
            "cumulative_commission_per_customer",
        ],
    )
    .properties(title=f"{program_id}: commission per customer by cohort")
)
summary["cohorts"] = {
    "cohorts": cohort_sizes.height,
    "customers": int(cohort_sizes["customers"].sum()),
    "max_month_number": int(cohorts["month_number"].max()) if cohorts.height else 0,
    "revenue_cents": whole_cents(cohorts["revenue_cents"]),
    "commission_cents": int(cohorts["commission_cents"].sum()),
}
charts["cohorts"]

# %%
summary["charts"] = save_charts(charts, output_dir, "program_performance")
con.close()

# %% [markdown]
# ## Summary

# %%
summary_table(summary)
