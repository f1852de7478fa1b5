{#- The refunds that take money back, per paid event, in (time, id) order (SPEC §2.7):
    succeeded refunds and Sale API refunds for their amount, a lost dispute for whatever was
    not refunded yet; the cumulative refunded amount is capped at the event amount. -#}
with refunds as (
    select * from {{ ref('int_refunds_matched') }}
    where quarantine_reason is null and not is_ignored and is_effective
),

running as (
    select
        *,
        {{ dbt.bool_or("refund_type = 'dispute'") }} over event_so_far as has_lost_dispute,
        sum(case when refund_type != 'dispute' then amount_cents else 0 end) over event_so_far
            as refunds_so_far_cents
    from refunds
    window event_so_far as (
        partition by paid_event_key
        order by refunded_at, refund_id, refund_type
        rows between unbounded preceding and current row
    )
),

capped as (
    select
        *,
        case
            when has_lost_dispute then event_amount_cents
            else least(event_amount_cents, refunds_so_far_cents)
        end as cumulative_refunded_cents
    from running
),

sequenced as (
    select
        *,
        cumulative_refunded_cents - coalesce(lag(cumulative_refunded_cents) over (
            partition by paid_event_key order by refunded_at, refund_id, refund_type
        ), 0) as refunded_cents
    from capped
)

select * from sequenced
