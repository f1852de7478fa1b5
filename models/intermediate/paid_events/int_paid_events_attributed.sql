{#- Every valid paid event of an attributed customer, with the customer's partner and winning
    touch (SPEC §2.2–§2.6): what tiers measure and commissions rate. The event's calendar month
    is a column, so that the tier of (partner, month) is joined on two plain columns of one
    relation: a join keyed on an expression of the event alone lets the planner meet every
    event with every partner's tier row of its month before the partner is known.

    Scoped (macros/change_scope.sql, docs/decisions/0026): a night recomputes the events the
    numbering may have changed and every event of a customer whose winning touch changed
    (attributed_events_scope). The numbering's changed events are the keys
    int_paid_events_numbered wrote in this build when it recorded them (macros/written_keys.sql,
    docs/decisions/0029): an event's row is a function of its numbered row and its customer's
    winning touch. -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='paid_event_key',
    incremental_strategy='scope_replace',
    post_hook="{{ record_scope_marks() }}",
) }}

{{ scope_dependencies(paid_events_scope_inputs()) }}
{%- set scope = change_scope() %}
{%- set by_written_events = scope.mode == 'changes'
    and wrote_since_my_last_build('int_paid_events_numbered') %}
{%- set by_written_customers = scope.mode == 'changes'
    and wrote_since_my_last_build('int_customers_attributed') %}
{%- set why = scope.why ~ ('; events by written keys' if by_written_events else '')
    ~ ('; winners by written keys' if by_written_customers else '') %}
-- scope: {{ scope.mode }} ({{ why }})

with
{%- if scope.mode == 'changes' %}

{{ attributed_events_scope(
    scope, this,
    numbered_keys=written_key_values('int_paid_events_numbered') if by_written_events else none,
    attributed_customers=recomputed_customers('int_customers_attributed') if by_written_customers else none,
) }},
{%- endif %}

events as (
    select * from {{ ref('int_paid_events_numbered') }}
    {%- if scope.mode == 'changes' %}
    where paid_event_key in (select attributed_event_keys.paid_event_key from attributed_event_keys)
    {%- endif %}
),

attributed as (
    select * from {{ ref('int_customers_attributed') }}
    {%- if scope.mode == 'changes' %}
    {# the winners of the events' customers: joined to every winner, the join hashed the 1.5
        million winners (at L) for about 20,000 events; the semi-join hashes the events' keys #}
    where customer_key in (select events.customer_key from events)
    {%- endif %}
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

{{ scope_select(scope, 'attributed_events', 'attributed_event_keys', 'paid_event_key') }}
