{#- Tiers per partner and month (SPEC §2.6), the store of record. The current month is
    recomputed by every run; from the first run whose as-of is on or after the month's end, the
    month is frozen and no later run changes it. A run evaluates only the months not frozen
    (macros/partner_tiers.sql): at the end of a year of history, the open month of each partner
    rather than every month since it joined.

    On Spark the table is Parquet, partitioned by month, and a run rewrites the months its rows
    fall in (dynamic partition overwrite; no merge without Delta, docs/decisions/0028). So that
    a month rewritten for some partners keeps the others' rows (a partner delivered late, with a
    joined_at months back, is evaluated for months frozen for everyone else), the stored rows
    of those months that the run does not evaluate are written again with them. -#}
{{ config(
    materialized='incremental',
    unique_key='partner_month_id',
    incremental_strategy=('insert_overwrite' if target.type == 'spark' else 'delete+insert'),
    written_key='partner_month_id',
    partition_by=(['month_start'] if target.type == 'spark' else none),
) }}

{%- set months %}
{{ partner_months() }}
{%- if is_incremental() %}
where not exists (
    select 1
    from {{ this }} as stored
    where stored.is_frozen
        and stored.partner_id = spine.partner_id
        and stored.month_start = spine.month_start
)
{%- endif %}
{%- endset %}

with {{ partner_tier_ctes(months) }}

{%- if is_incremental() and target.type == 'spark' %}
, rows_evaluated as (
{%- endif %}
select
    evaluated.partner_month_id,
    evaluated.program_id,
    evaluated.partner_id,
    {{ year_month_text('evaluated.month_start') }} as month,
    evaluated.month_start,
    evaluated.month_end,
    evaluated.tier,
    evaluated.tier_rank,
    evaluated.customers_count,
    evaluated.revenue_cents,
    evaluated.revenue_scaled,
    evaluated.month_end <= {{ as_of_ts() }} as is_frozen,
    {{ as_of_date() }} as evaluated_as_of
from evaluated
{%- if is_incremental() and target.type == 'spark' %}
)

select * from rows_evaluated
union all
{#- by name, in the contract's order (the select's): a partitioned table keeps its partition
    column last, so `stored.*` would not line up #}
select {% for column in model.columns %}stored.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
from {{ this }} as stored
where stored.month_start in (select rows_evaluated.month_start from rows_evaluated)
    and not exists (
        select 1
        from rows_evaluated
        where rows_evaluated.partner_id = stored.partner_id
            and rows_evaluated.month_start = stored.month_start
    )
{%- endif %}
