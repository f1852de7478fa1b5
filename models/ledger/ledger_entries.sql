{#- The append-only store of every non-payout ledger entry (SPEC §2.8). Each run appends, per
    ledger key, the difference between what is owed now and what the ledger already holds,
    stamped recorded_at = the run's as-of. A difference keeps its type and the dates of its
    money event; a key that is no longer owed is reversed with the attributes it was booked
    with. Running the same night again finds no difference and appends nothing. -#}
{{ config(materialized='incremental', incremental_strategy='append', written_key='entry_id') }}

{%- set attributes = [
    'program_id', 'partner_id', 'currency', 'entry_type', 'source_key', 'paid_event_type',
    'paid_event_id', 'customer_key', 'referred_partner_id', 'earned_at', 'available_at', 'tier',
    'phase', 'month_number', 'rate_bps', 'rate_version', 'touch_source', 'touch_id',
] %}

{#- The amounts decide which keys get an entry tonight; their attributes are read for those keys
    only. Owed and recorded amounts meet on two narrow columns (ledger key, cents), and the
    ledger's last booking per key is ranked only for the keys that changed: a night changes a
    few keys of millions (docs/decisions/0012). The model is read where it is needed rather than
    through one CTE, which DuckDB would copy whole for being read twice. #}
with
{% if is_incremental() %}
recorded as (
    select
        ledger_key,
        sum(amount_cents) as recorded_cents,
        count(case when recorded_at = {{ as_of_date() }} then 1 end) as bookings_tonight
    from {{ this }}
    group by ledger_key
),
{% else %}
recorded as (
    select
        cast(null as {{ dbt.type_string() }}) as ledger_key,
        cast(0 as {{ wide_integer_type() }}) as recorded_cents,
        cast(0 as bigint) as bookings_tonight
    where false
),
{% endif %}

changed as (
    select
        coalesce(expected.ledger_key, recorded.ledger_key) as ledger_key,
        cast(coalesce(expected.amount_cents, 0) - coalesce(recorded.recorded_cents, 0) as bigint)
            as amount_cents,
        coalesce(recorded.bookings_tonight, 0) as bookings_tonight
    from (select ledger_key, amount_cents from {{ ref('int_ledger_entries_expected') }}) as expected
    full outer join recorded
        on expected.ledger_key = recorded.ledger_key
    where coalesce(expected.amount_cents, 0) != coalesce(recorded.recorded_cents, 0)
),

expected as (
    select owed.*
    from {{ ref('int_ledger_entries_expected') }} as owed
    where owed.ledger_key in (select changed.ledger_key from changed)
),

{% if is_incremental() %}
last_booked as (
    select ledger_key, {{ attributes | join(', ') }}
    from (
        select
            *,
            row_number() over (partition by ledger_key order by recorded_at desc, entry_id desc) as booking_rank
        from {{ this }} as booked
        where booked.ledger_key in (select changed.ledger_key from changed)
    ) as bookings
    where booking_rank = 1
),
{% else %}
last_booked as (
    select ledger_key, {{ attributes | join(', ') }}
    from expected
    where false
),
{% endif %}

differences as (
    select
        changed.ledger_key,
        {%- for column in attributes %}
        coalesce(expected.{{ column }}, last_booked.{{ column }}) as {{ column }},
        {%- endfor %}
        changed.amount_cents,
        changed.bookings_tonight
    from changed
    left join expected
        on changed.ledger_key = expected.ledger_key
    left join last_booked
        on changed.ledger_key = last_booked.ledger_key
)

{#- entry_id = hash(ledger key, as-of): deterministic. A night run again after more deliveries
    can book a key a second time under the same as-of; its entry adds how many that key already
    has under it, so that ids stay unique (docs/decisions/0001). -#}
select
    {{ dbt.hash(
        "ledger_key || '|' || cast(" ~ as_of_date() ~ " as " ~ dbt.type_string() ~ ")"
        ~ " || case when bookings_tonight > 0 then '|' || cast(bookings_tonight as "
        ~ dbt.type_string() ~ ") else '' end"
    ) }} as entry_id,
    ledger_key,
    {%- for column in attributes %}
    {{ column }},
    {%- endfor %}
    amount_cents,
    {{ as_of_date() }} as recorded_at
from differences
