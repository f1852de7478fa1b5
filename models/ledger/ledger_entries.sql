{#- The append-only store of every non-payout ledger entry (SPEC §2.8). Each run appends, per
    ledger key, the difference between what is owed now and what the ledger already holds,
    stamped recorded_at = the run's as-of. A difference keeps its type and the dates of its
    money event; a key that is no longer owed is reversed with the attributes it was booked
    with. Running the same night again finds no difference and appends nothing.

    After each build the store holds, per key, what int_ledger_entries_expected owed then. So
    when int_ledger_entries_expected recorded, in this invocation, every key whose row changed
    since this model's last build (wrote_since_my_last_build: it is scoped by difference, and its
    build started from this model's marks), only those keys can differ tonight, and the amounts
    are compared for them alone (at L, 6 million keys on both sides: 2.9 s of a closing night;
    docs/decisions/0012, session 29). Otherwise (a full build of it, a replay, new code or
    rules, another invocation) every key is compared. -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    written_key='entry_id',
    post_hook="{{ record_scope_marks() }}",
) }}

{{ scope_dependencies() }}
{%- set scope = change_scope() %}
{%- set by_written_keys = scope.mode == 'changes'
    and wrote_since_my_last_build('int_ledger_entries_expected') %}
{%- set why = scope.why ~ ('; keys written by int_ledger_entries_expected' if by_written_keys else '; every key') %}
-- scope: {{ scope.mode }} ({{ why }})

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
{%- if by_written_keys %}

written_keys as (
    select key_value as ledger_key
    from ({{ written_key_values('int_ledger_entries_expected') }}) as written
),
{%- endif %}
{% if is_incremental() %}
recorded as (
    select
        ledger_key,
        sum(amount_cents) as recorded_cents,
        count(case when recorded_at = {{ as_of_date() }} then 1 end) as bookings_tonight
    from {{ this }}
    {%- if by_written_keys %}
    where ledger_key in (select written_keys.ledger_key from written_keys)
    {%- endif %}
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
    from (
        select ledger_key, amount_cents from {{ ref('int_ledger_entries_expected') }}
        {%- if by_written_keys %}
        where ledger_key in (select written_keys.ledger_key from written_keys)
        {%- endif %}
    ) as expected
    full outer join recorded
        on expected.ledger_key = recorded.ledger_key
    where coalesce(expected.amount_cents, 0) != coalesce(recorded.recorded_cents, 0)
),

expected as (
    select owed.*
    from {{ ref('int_ledger_entries_expected') }} as owed
    {%- if by_written_keys %}
    {# rows int_ledger_entries_expected wrote tonight, read by row id (macros/written_keys.sql) #}
    where owed.rowid in ({{ row_ids_with_keys(
        ref('int_ledger_entries_expected'), 'ledger_key', 'select changed.ledger_key from changed'
    ) }})
    {%- else %}
    where owed.ledger_key in (select changed.ledger_key from changed)
    {%- endif %}
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
