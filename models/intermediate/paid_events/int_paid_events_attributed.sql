{#- Every valid paid event of an attributed customer, with the customer's partner and winning
    touch (SPEC §2.2–§2.6): what tiers measure and commissions rate. The event's calendar month
    is a column, so that the tier of (partner, month) is joined on two plain columns of one
    relation: a join keyed on an expression of the event alone lets the planner meet every
    event with every partner's tier row of its month before the partner is known. -#}
with events as (
    select * from {{ ref('int_paid_events_numbered') }}
),

attributed as (
    select * from {{ ref('int_customers_attributed') }}
),

attributed_events as (
    select
        events.program_id,
        events.customer_key,
        events.paid_event_key,
        events.paid_event_type,
        events.paid_event_id,
        events.paid_at,
        {{ month_start('events.paid_at') }} as paid_month_start,
        events.basis_scaled,
        events.event_amount_cents,
        events.month_number,
        attributed.partner_id,
        attributed.touch_source,
        attributed.touch_id,
        attributed.touched_at
    from events
    inner join attributed
        on events.program_id = attributed.program_id
        and events.customer_key = attributed.customer_key
)

select * from attributed_events
