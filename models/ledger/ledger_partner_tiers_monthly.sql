{#- Tiers per partner and month (SPEC §2.6), the store of record. The current month is
    recomputed by every run; from the first run whose as-of is on or after the month's end, the
    month is frozen and no later run changes it. -#}
{{ config(
    materialized='incremental',
    unique_key='partner_month_id',
    incremental_strategy='delete+insert',
) }}

with evaluated as (
    select * from {{ ref('int_partner_tiers_evaluated') }}
)

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
{% if is_incremental() %}
where evaluated.partner_month_id not in (select partner_month_id from {{ this }} where is_frozen)
{% endif %}
