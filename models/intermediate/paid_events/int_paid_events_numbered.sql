{#- Valid paid events with the customer's month number (SPEC §2.3): 1 for the customer's first
    paid event in the program, then whole UTC calendar months after it.

    Scoped (macros/change_scope.sql, docs/decisions/0026): a customer's numbers depend on all of
    the customer's valid events, so a night renumbers every event of the customers whose events
    may have changed since the last build, under the key they had then (the stored rows) and
    the key they have now. Those events are the keys int_paid_events_resolved wrote in this
    build when it recorded them (macros/written_keys.sql): a numbered row is a function of the
    resolved rows of its customer alone. Otherwise (resolved was built by another invocation)
    they are found again (paid_events_scope). Such a build also records the customers of the
    rows it wrote, under both keys (`written_groups`): the customers whose first paid events
    int_customers_identified looks at again. -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='paid_event_key',
    incremental_strategy='scope_replace',
    written_groups=['program_id', 'customer_key'],
    post_hook="{{ record_scope_marks() }}",
) }}

{{ scope_dependencies(paid_events_scope_inputs()) }}
{%- set scope = change_scope() %}
{%- set by_written_events = scope.mode == 'changes'
    and wrote_since_my_last_build('int_paid_events_resolved') %}
-- scope: {{ scope.mode }} ({{ scope.why ~ ('; events by written keys' if by_written_events else '') }})

with
{%- if by_written_events %}

scope_keys as (
    select key_value as paid_event_key
    from ({{ written_key_values('int_paid_events_resolved') }}) as written
),
{%- elif scope.mode == 'changes' %}

{{ paid_events_scope(scope) }},
{%- endif %}
{%- if scope.mode == 'changes' %}

valid_events as (
    select * from {{ ref('int_paid_events_resolved') }}
    where quarantine_reason is null
),

{{ customer_events_scope(this, 'valid_events') }},
{%- endif %}

events as (
    select resolved.*
    from {{ ref('int_paid_events_resolved') }} as resolved
    {%- if scope.mode == 'changes' %}
    inner join scope_customers
        on resolved.program_id = scope_customers.program_id
        and resolved.customer_key = scope_customers.customer_key
    {%- endif %}
    where resolved.quarantine_reason is null
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

{{ scope_select(scope, 'numbered', 'customer_event_keys', 'paid_event_key') }}
