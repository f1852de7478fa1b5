{#- The append-only store of every non-payout ledger entry (SPEC §2.8). Each run appends, per
    ledger key, the difference between what is owed now and what the ledger already holds,
    stamped recorded_at = the run's as-of. A difference keeps its type and the dates of its
    money event; a key that is no longer owed is reversed with the attributes it was booked
    with. Running the same night again finds no difference and appends nothing. -#}
{{ config(materialized='incremental', incremental_strategy='append') }}

with expected as (
    select * from {{ ref('int_ledger_entries_expected') }}
),

{% if is_incremental() %}
recorded as (
    select
        ledger_key,
        sum(amount_cents) as recorded_cents
    from {{ this }}
    group by ledger_key
),

last_booked as (
    select * exclude (entry_id, recorded_at, amount_cents, booking_rank)
    from (
        select
            *,
            row_number() over (partition by ledger_key order by recorded_at desc, entry_id desc) as booking_rank
        from {{ this }}
    ) as bookings
    where booking_rank = 1
),
{% else %}
recorded as (
    select cast(null as varchar) as ledger_key, cast(0 as hugeint) as recorded_cents
    where false
),

last_booked as (
    select * exclude (amount_cents) from expected where false
),
{% endif %}

differences as (
    select
        coalesce(expected.ledger_key, last_booked.ledger_key) as ledger_key,
        coalesce(expected.program_id, last_booked.program_id) as program_id,
        coalesce(expected.partner_id, last_booked.partner_id) as partner_id,
        coalesce(expected.currency, last_booked.currency) as currency,
        coalesce(expected.entry_type, last_booked.entry_type) as entry_type,
        coalesce(expected.source_key, last_booked.source_key) as source_key,
        coalesce(expected.paid_event_type, last_booked.paid_event_type) as paid_event_type,
        coalesce(expected.paid_event_id, last_booked.paid_event_id) as paid_event_id,
        coalesce(expected.customer_key, last_booked.customer_key) as customer_key,
        coalesce(expected.referred_partner_id, last_booked.referred_partner_id) as referred_partner_id,
        coalesce(expected.earned_at, last_booked.earned_at) as earned_at,
        coalesce(expected.available_at, last_booked.available_at) as available_at,
        coalesce(expected.tier, last_booked.tier) as tier,
        coalesce(expected.phase, last_booked.phase) as phase,
        coalesce(expected.month_number, last_booked.month_number) as month_number,
        coalesce(expected.rate_bps, last_booked.rate_bps) as rate_bps,
        coalesce(expected.rate_version, last_booked.rate_version) as rate_version,
        coalesce(expected.touch_source, last_booked.touch_source) as touch_source,
        coalesce(expected.touch_id, last_booked.touch_id) as touch_id,
        cast(coalesce(expected.amount_cents, 0) - coalesce(recorded.recorded_cents, 0) as bigint)
            as amount_cents
    from expected
    full outer join last_booked
        on expected.ledger_key = last_booked.ledger_key
    left join recorded
        on coalesce(expected.ledger_key, last_booked.ledger_key) = recorded.ledger_key
)

select
    {{ dbt.hash("ledger_key || '|' || cast(" ~ as_of_date() ~ " as varchar)") }} as entry_id,
    *,
    {{ as_of_date() }} as recorded_at
from differences
where amount_cents != 0
