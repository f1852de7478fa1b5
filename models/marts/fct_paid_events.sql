{#- Every paid event that counts (SPEC §2.3: not quarantined), with its basis in the program's
    currency, its customer and month number, the partner the customer is attributed to (none
    when unattributed) and what it earned in the ledger, net of corrections and clawbacks.
    One row per paid_event_key.

    Scoped (macros/change_scope.sql, docs/decisions/0026): a row is a function of the event's
    numbered row, its customer's attribution and its ledger entries, so a night recomputes the
    events the numbering may have changed, every event of a customer whose winning touch
    changed, and every event with a ledger entry recorded since the last build. The numbering's
    changed events and the customers whose winner was recomputed are the keys
    int_paid_events_numbered and int_customers_attributed recorded, when they did since this
    model's last build (macros/written_keys.sql); otherwise found again from this model's marks. -#}
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

scope_event_keys as (
    select paid_event_key from attributed_event_keys
    union
    select paid_event_type || ':' || paid_event_id as paid_event_key
    from {{ ref('ledger_entries') }}
    where {{ stamped_since(scope, 'recorded_at') }}
        and paid_event_id is not null
),
{%- endif %}

events as (
    select * from {{ ref('int_paid_events_numbered') }}
    {%- if scope.mode == 'changes' %}
    where paid_event_key in (select scope_event_keys.paid_event_key from scope_event_keys)
    {%- endif %}
),

attributed as (
    select program_id, customer_key, partner_id, touch_source, touch_id, touched_at
    from {{ ref('int_customers_attributed') }}
    {%- if scope.mode == 'changes' %}
    {# the events' customers only, as in int_paid_events_attributed #}
    where customer_key in (select events.customer_key from events)
    {%- endif %}
),

{# The accrual entries from the ledger's store: fct_ledger_entries holds the same entries
    with their settling and paying closes, and reading it made this model wait for it at the
    end of a night (2.6 s each at M, one after the other). #}
entries as (
    select
        ledger.program_id,
        ledger.paid_event_type,
        ledger.paid_event_id,
        ledger.entry_type,
        ledger.amount_cents
    from {{ ref('ledger_entries') }} as ledger
    {%- if scope.mode == 'changes' %}
    {# the entries of the events below, matched on the two plain columns: a key built from
        them was computed for every entry of the ledger (0.9 s of L's night) #}
    inner join (select distinct paid_event_type, paid_event_id from events) as scoped
        on ledger.paid_event_type = scoped.paid_event_type
        and ledger.paid_event_id = scoped.paid_event_id
    {%- endif %}
    where ledger.paid_event_id is not null
),

earned_by_event as (
    select
        program_id,
        paid_event_type,
        paid_event_id,
        cast(sum(case when entry_type = 'commission' then amount_cents else 0 end) as bigint)
            as commission_cents,
        cast(sum(case when entry_type = 'referral_commission' then amount_cents else 0 end) as bigint)
            as referral_commission_cents,
        cast(sum(case when entry_type in ('clawback', 'referral_clawback') then amount_cents else 0 end) as bigint)
            as clawback_cents
    from entries
    group by program_id, paid_event_type, paid_event_id
),

rows_ as (
    select
        events.paid_event_key,
        events.paid_event_type,
        events.paid_event_id,
        events.program_id,
        events.customer_key,
        events.paid_at,
        {{ year_month_text('events.paid_at') }} as paid_month,
        events.month_number,
        events.event_sequence,
        events.currency,
        events.event_amount_cents,
        events.basis_cents,
        events.program_currency,
        events.fx_rate,
        events.basis_scaled,
        {#- for reading only: the rules use basis_scaled (cents × 10^12), never a rounded basis -#}
        {{ round_half_away('events.basis_scaled', basis_scale()) }} as program_basis_cents,
        attributed.partner_id,
        attributed.touch_source,
        attributed.touch_id,
        attributed.touched_at,
        coalesce(earned_by_event.commission_cents, 0) as commission_cents,
        coalesce(earned_by_event.referral_commission_cents, 0) as referral_commission_cents,
        coalesce(earned_by_event.clawback_cents, 0) as clawback_cents,
        coalesce(earned_by_event.commission_cents, 0) != 0 as has_earned
    from events
    left join attributed
        on events.program_id = attributed.program_id
        and events.customer_key = attributed.customer_key
    left join earned_by_event
        on events.program_id = earned_by_event.program_id
        and events.paid_event_type = earned_by_event.paid_event_type
        and events.paid_event_id = earned_by_event.paid_event_id
)

{{ scope_select(scope, 'rows_', 'scope_event_keys', 'paid_event_key') }}
