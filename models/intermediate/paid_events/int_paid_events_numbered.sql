{#- Valid paid events with the customer's month number (SPEC §2.3): 1 for the customer's first
    paid event in the program, then whole UTC calendar months after it. -#}
with events as (
    select * from {{ ref('int_paid_events_resolved') }}
    where quarantine_reason is null
),

ordered as (
    select
        *,
        row_number() over (
            partition by program_id, customer_key order by paid_at, paid_event_key
        ) as event_sequence,
        min(paid_at) over (partition by program_id, customer_key) as first_paid_at
    from events
),

numbered as (
    select
        *,
        {{ months_between('first_paid_at', 'paid_at') }} + 1 as month_number
    from ordered
)

select * from numbered
