{#- Tier evaluation (SPEC §2.6), shared by the store of record and the view of every month.

    For every tier, over its own lookback_days before the first day of month M: distinct paying
    customers now attributed to the partner, and revenue = their events' basis minus refunds
    dated in the window (refunded × basis / event amount), compared exactly (scaled integers;
    refund shares rounded at 10^-12 cent). The tier is the highest rank whose two thresholds are
    met; rank 1 always is.

    `months` is SQL of the (partner_id, program_id, month_start) rows to evaluate: only those
    are measured, so a night that evaluates the open month reads the events of its windows, not
    every month since the partner joined (docs/decisions/0026). Gives the CTEs up to
    `evaluated`, the columns of int_partner_tiers_evaluated. -#}

{#- SQL for `months`: every (partner, month) from the month the partner joined to the run's
    month (the partners are partner_tier_ctes's first CTE). -#}
{% macro partner_months() -%}
    select partner_id, program_id, month_start
    from (
        {{ months_from_to('tier_partners', 'tier_partners.joined_at', dbt.dateadd('day', -1, as_of_ts())) | indent(8) }}
    ) as spine
{%- endmacro %}

{% macro partner_tier_ctes(months) -%}
tier_partners as (
    select partner_id, program_id, joined_at from {{ ref('int_partners_current') }}
),

tier_months as (
    {{ months | indent(4) }}
),

tiers as (
    select * from {{ ref('stg_rules__tiers') }}
),

windows as (
    select
        tier_months.partner_id,
        tier_months.program_id,
        tier_months.month_start,
        tiers.tier,
        tiers.rank as tier_rank,
        tiers.min_customers,
        tiers.min_revenue_cents,
        {{ dbt.dateadd('day', '-1 * tiers.lookback_days', 'tier_months.month_start') }} as window_start
    from tier_months
    inner join tiers
        on tier_months.program_id = tiers.program_id
),

{# the earliest day any window opens: events and refunds before it are in no window #}
windows_open as (
    select min(window_start) as first_day from windows
),

events as (
    select partner_id, customer_key, paid_at, paid_event_key, basis_scaled, event_amount_cents
    from {{ ref('int_paid_events_attributed') }}
),

window_events as (
    select events.*
    from events
    inner join windows_open
        on events.paid_at >= windows_open.first_day
),

refunds as (
    select
        events.partner_id,
        refunds.refunded_at,
        {{ round_half_away(
            'refunds.refunded_cents * events.basis_scaled', 'events.event_amount_cents', wide_integer_type()
        ) }}
            as refunded_basis_scaled
    from {{ ref('int_refunds_sequenced') }} as refunds
    inner join windows_open
        on refunds.refunded_at >= windows_open.first_day
    inner join events
        on refunds.paid_event_key = events.paid_event_key
    where refunds.refunded_cents != 0
),

event_metrics as (
    select
        windows.partner_id,
        windows.month_start,
        windows.tier,
        count(distinct window_events.customer_key) as customers_count,
        coalesce(sum(window_events.basis_scaled), 0) as basis_scaled
    from windows
    left join window_events
        on windows.partner_id = window_events.partner_id
        and windows.window_start <= window_events.paid_at
        and windows.month_start > window_events.paid_at
    group by windows.partner_id, windows.month_start, windows.tier
),

refund_metrics as (
    select
        windows.partner_id,
        windows.month_start,
        windows.tier,
        coalesce(sum(refunds.refunded_basis_scaled), 0) as refunded_scaled
    from windows
    left join refunds
        on windows.partner_id = refunds.partner_id
        and windows.window_start <= refunds.refunded_at
        and windows.month_start > refunds.refunded_at
    group by windows.partner_id, windows.month_start, windows.tier
),

measured as (
    select
        windows.*,
        event_metrics.customers_count,
        event_metrics.basis_scaled - refund_metrics.refunded_scaled as revenue_scaled,
        windows.tier_rank = 1
        or (
            event_metrics.customers_count >= windows.min_customers
            and event_metrics.basis_scaled - refund_metrics.refunded_scaled
            >= cast(windows.min_revenue_cents as {{ wide_integer_type() }}) * {{ basis_scale() }}
        ) as is_met
    from windows
    inner join event_metrics
        on windows.partner_id = event_metrics.partner_id
        and windows.month_start = event_metrics.month_start
        and windows.tier = event_metrics.tier
    inner join refund_metrics
        on windows.partner_id = refund_metrics.partner_id
        and windows.month_start = refund_metrics.month_start
        and windows.tier = refund_metrics.tier
),

best as (
    select
        *,
        row_number() over (
            partition by partner_id, month_start order by is_met desc, tier_rank desc
        ) as tier_choice
    from measured
),

evaluated as (
    select
        {{ dbt.hash("partner_id || '|' || cast(month_start as " ~ dbt.type_string() ~ ")") }} as partner_month_id,
        program_id,
        partner_id,
        month_start,
        tier,
        tier_rank,
        customers_count,
        revenue_scaled,
        cast({{ integer_divide('revenue_scaled', '1000000') }} as decimal(38, 0))
        * cast(0.000001 as decimal(7, 6)) as revenue_cents,
        {{ dbt.dateadd('month', 1, 'month_start') }} as month_end
    from best
    where tier_choice = 1
)
{%- endmacro %}
