{#- One row per (program, customer): what attribution needs to know (SPEC §2.2, §1.2).
    Conversion is the signup, else the first paid event. The Stripe click id and email come
    from the customer's first Stripe paid event; the coupon from the first paid event.
    `customer_id` names the customer in one text (group_text: `program|key`, the key empty when
    null), the group the attribution models are scoped by.

    Scoped by customer (macros/change_scope.sql, docs/decisions/0026): a row is a function of
    the customer's visible signup and paid events, so a night recomputes the customers with a
    signup record delivered since the last build or timestamped at or after its as-of, and the
    customers of every event whose numbered row changed, under the key it had and the key it
    has now (int_paid_events_numbered records them in this build: when it did not, since this
    model's last build, the model is built in full). It records the customers it recomputed
    (written_key), for the models below. -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key=['customer_id'],
    incremental_strategy='group_replace',
    written_key='customer_id',
    post_hook="{{ record_scope_marks() }}",
) }}

{{ scope_dependencies() }}
{%- set scope = scope_reading_keys_of(change_scope(), 'int_paid_events_numbered') %}
-- scope: {{ scope.mode }} ({{ scope.why }})

with
{%- if scope.mode == 'changes' %}

scope_groups as (
    select {{ group_text(['program_id', 'customer_key']) }} as customer_id
    from (
        {{ records_since(
            ref('int_signups_validated'), ['program_id', 'customer_key'], scope, ['record_at']
        ) | indent(8) }}
    ) as touched_signups
    union
    {{ written_key_values('int_paid_events_numbered' ~ written_groups_suffix()) }}
),
{%- endif %}

signups as (
    select * from {{ ref('int_signups_validated') }}
    where is_visible
    {%- if scope.mode == 'changes' %}
        and {{ group_text(['program_id', 'customer_key']) }} in (select scope_groups.customer_id from scope_groups)
    {%- endif %}
),

first_events as (
    select
        program_id,
        customer_key,
        paid_at,
        paid_event_key,
        paid_event_type,
        coupon_code,
        stripe_click_id,
        stripe_email
    from {{ ref('int_paid_events_numbered') }}
    where event_sequence = 1
    {%- if scope.mode == 'changes' %}
        and {{ group_text(['program_id', 'customer_key']) }} in (select scope_groups.customer_id from scope_groups)
    {%- endif %}
),

{# The first Stripe paid event: the first paid event when that is a Stripe one (nearly every
    customer); otherwise the first of the customer's Stripe events, looked for among the few
    customers whose first paid event was a Sale API sale. #}
stripe_events_after_a_sale as (
    select events.*
    from {{ ref('int_paid_events_numbered') }} as events
    inner join first_events
        on events.program_id = first_events.program_id
        and events.customer_key = first_events.customer_key
    where first_events.paid_event_type not in ('invoice', 'charge')
        and events.paid_event_type in ('invoice', 'charge')
),

first_stripe_events as (
    select program_id, customer_key, stripe_click_id, stripe_email
    from first_events
    where paid_event_type in ('invoice', 'charge')
    union all
    {{ first_of_groups(
        'stripe_events_after_a_sale',
        ['program_id', 'customer_key'],
        ['paid_at', 'paid_event_key'],
        ['stripe_click_id', 'stripe_email'],
    ) | indent(4) }}
),

{# every customer with a paid event has exactly one first event #}
customer_keys as (
    select program_id, customer_key from signups
    union
    select program_id, customer_key from first_events
),

identified as (
    select
        {{ group_text(['program_id', 'customer_key'], 'customer_keys') }} as customer_id,
        customer_keys.program_id,
        customer_keys.customer_key,
        signups.occurred_at as signed_up_at,
        signups.click_id as signup_click_id,
        signups.visitor_id as signup_visitor_id,
        first_events.paid_at as first_paid_at,
        first_events.paid_event_key as first_paid_event_key,
        first_events.coupon_code as first_event_coupon_code,
        first_stripe_events.stripe_click_id,
        coalesce(signups.email_normalized, first_stripe_events.stripe_email) as customer_email,
        coalesce(signups.occurred_at, first_events.paid_at) as converted_at
    from customer_keys
    left join signups
        on customer_keys.program_id = signups.program_id
        and customer_keys.customer_key = signups.customer_key
    left join first_events
        on customer_keys.program_id = first_events.program_id
        and customer_keys.customer_key = first_events.customer_key
    left join first_stripe_events
        on customer_keys.program_id = first_stripe_events.program_id
        and customer_keys.customer_key = first_stripe_events.customer_key
)

{{ group_scope_select(scope, 'identified', 'scope_groups', ['customer_id']) }}
