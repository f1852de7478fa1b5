{#- Tiers per partner and month (SPEC §2.6), the store of record. The current month is
    recomputed by every run; from the first run whose as-of is on or after the month's end, the
    month is frozen and no later run changes it. A run evaluates only the months not frozen
    (macros/partner_tiers.sql): at the end of a year of history, the open month of each partner
    rather than every month since it joined. -#}
{{ config(
    materialized='incremental',
    unique_key='partner_month_id',
    incremental_strategy=('insert_overwrite' if target.type == 'spark' else 'delete+insert'),
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
