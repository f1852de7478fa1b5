{#- Each partner's tier for each calendar month M from the month it joined to the run's
    current month (SPEC §2.6). For every tier, over its own lookback_days before M's first day:
    distinct paying customers now attributed to the partner, and revenue = their events' basis
    minus refunds dated in the window (refunded × basis / event amount), compared exactly
    (scaled integers; refund shares rounded at 10^-12 cent). The tier is the highest rank
    whose two thresholds are met; rank 1 always is. -#}
with partners as (
    select partner_id, program_id, joined_at from {{ ref('int_partners_current') }}
),

tiers as (
    select * from {{ ref('stg_rules__tiers') }}
),

events as (
    select partner_id, customer_key, paid_at, paid_event_key, basis_scaled, event_amount_cents
    from {{ ref('int_paid_events_attributed') }}
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
    inner join events
        on refunds.paid_event_key = events.paid_event_key
    where refunds.refunded_cents != 0
),

months as (
    select partner_id, program_id, month_start
    from (
        {{ months_from_to('partners', 'partners.joined_at', dbt.dateadd('day', -1, as_of_ts())) | indent(8) }}
    ) as spine
),

windows as (
    select
        months.partner_id,
        months.program_id,
        months.month_start,
        tiers.tier,
        tiers.rank as tier_rank,
        tiers.min_customers,
        tiers.min_revenue_cents,
        {{ dbt.dateadd('day', '-1 * tiers.lookback_days', 'months.month_start') }} as window_start
    from months
    inner join tiers
        on months.program_id = tiers.program_id
),

event_metrics as (
    select
        windows.partner_id,
        windows.month_start,
        windows.tier,
        count(distinct events.customer_key) as customers_count,
        coalesce(sum(events.basis_scaled), 0) as basis_scaled
    from windows
    left join events
        on windows.partner_id = events.partner_id
        and windows.window_start <= events.paid_at
        and windows.month_start > events.paid_at
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
)

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
