{#- One row per program and customer (SPEC §1.2, §2.2): identity, conversion, the winning
    touch and partner (none when no touch is eligible), and the first paid event that counts.

    Scoped by customer (macros/change_scope.sql, docs/decisions/0026): a row is a function of
    the customer's rows of int_customers_identified and int_customers_attributed, so a night
    recomputes the customers int_touch_candidates recomputed (those two models' among them) and
    writes the rows that changed. When it did not record them since this model's last build,
    the model is built in full. -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='customer_id',
    incremental_strategy='scope_replace',
    post_hook="{{ record_scope_marks() }}",
) }}

{{ scope_dependencies() }}
{%- set scope = scope_reading_keys_of(change_scope(), 'int_touch_candidates') %}
-- scope: {{ scope.mode }} ({{ scope.why }})

with
{%- if scope.mode == 'changes' %}

scope_keys as (
    {{ recomputed_customers('int_touch_candidates') }}
),
{%- endif %}

customers as (
    select * from {{ ref('int_customers_identified') }}
    {%- if scope.mode == 'changes' %}
    where customer_id in (select scope_keys.customer_id from scope_keys)
    {%- endif %}
),

attributed as (
    select program_id, customer_key, partner_id, touch_source, touch_id, touched_at
    from {{ ref('int_customers_attributed') }}
    {%- if scope.mode == 'changes' %}
    where customer_id in (select scope_keys.customer_id from scope_keys)
    {%- endif %}
),

customer_rows as (
    select
        customers.customer_id,
        customers.program_id,
        customers.customer_key,
        customers.customer_email,
        customers.signed_up_at,
        customers.signup_click_id,
        customers.stripe_click_id,
        customers.converted_at,
        case when customers.signed_up_at is not null then 'signup' else 'first_paid_event' end
            as conversion_source,
        attributed.partner_id,
        attributed.touch_source as winning_touch_source,
        attributed.touch_id as winning_touch_id,
        attributed.touched_at as winning_touched_at,
        attributed.partner_id is not null as is_attributed,
        customers.first_paid_event_key,
        customers.first_paid_at,
        customers.first_event_coupon_code
    from customers
    left join attributed
        on customers.program_id = attributed.program_id
        and customers.customer_key = attributed.customer_key
    {# a paid event with no customer identity at all (no key in metadata, no signup email, no
        Stripe customer) identifies no one #}
    where customers.customer_key is not null
)
{{ scope_select(scope, 'customer_rows', 'scope_keys', 'customer_id') }}
