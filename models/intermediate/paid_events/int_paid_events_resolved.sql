{#- Paid events (SPEC §2.3) with routing and identity (SPEC §1.2): paid Stripe invoices,
    invoice-less succeeded charges and Sale API sales. Each event gets its program, customer key,
    basis in the program's currency (cents × basis_scale, exact) or a quarantine reason.

    Scoped (macros/change_scope.sql, docs/decisions/0026): a night recomputes only the events
    whose row may have changed since the last build (paid_events_scope). -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='paid_event_key',
    incremental_strategy='scope_replace',
    post_hook="{{ record_scope_marks() }}",
) }}

{{ scope_dependencies(['stg_stripe__charges']) }}
{%- set scope = change_scope() %}
-- scope: {{ scope.mode }} ({{ scope.why }})

with
{%- if scope.mode == 'changes' %}

{{ paid_events_scope(scope) }},
{%- endif %}

programs as (
    select * from {{ ref('stg_rules__programs') }}
),

default_program as (
    select program_id
    from programs
    where is_default
),

{# one row, null without a default program #}
default_program_id as (
    select max(program_id) as program_id from default_program
),

fx_rates as (
    select * from {{ ref('stg_rules__fx_rates') }}
),

stripe_customers as (
    select * from {{ ref('stg_stripe__customers') }}
    where {{ is_visible('created_at') }}
),

{# Read twice, a CTE would be copied whole (1.8M wide rows at M); each use reads the model
    itself and only what it needs. Only the charges that carry routing metadata can change an
    invoice's coalesce below (charge_id is unique), so only those are joined to invoices. #}
invoice_charge_metadata as (
    select
        charge_id,
        meta_program_id,
        meta_customer_key,
        meta_click_id
    from {{ ref('int_stripe_charges_linked') }}
    where meta_program_id is not null
        or meta_customer_key is not null
        or meta_click_id is not null
),

stripe_charges as (
    select * from {{ ref('int_stripe_charges_linked') }}
    where invoice_id is null
    {%- if scope.mode == 'changes' %}
        and charge_id in (select scope.paid_event_id from scope where scope.paid_event_type = 'charge')
    {%- endif %}
),

paid_invoices as (
    select * from {{ ref('stg_stripe__invoices') }}
    where status = 'paid' and amount_paid_cents > 0 and {{ is_visible('paid_at') }}
    {%- if scope.mode == 'changes' %}
        and invoice_id in (select scope.paid_event_id from scope where scope.paid_event_type = 'invoice')
    {%- endif %}
),

signups as (
    select * from {{ ref('int_signups_validated') }}
    where is_visible
),

sales as (
    select * from {{ ref('int_sales_validated') }}
    where is_visible and kind = 'sale'
    {%- if scope.mode == 'changes' %}
        and transaction_id in (select scope.paid_event_id from scope where scope.paid_event_type = 'sale')
    {%- endif %}
),

invoice_events as (
    select
        'invoice' as paid_event_type,
        paid_invoices.invoice_id as paid_event_id,
        paid_invoices.paid_at,
        paid_invoices.currency,
        paid_invoices.amount_paid_cents as event_amount_cents,
        paid_invoices.amount_paid_cents - paid_invoices.tax_cents as basis_cents,
        coalesce(
            paid_invoices.meta_program_id, paid_invoices.sub_program_id,
            charge_metadata.meta_program_id, stripe_customers.meta_program_id
        ) as routed_program_id,
        coalesce(
            paid_invoices.meta_customer_key, paid_invoices.sub_customer_key,
            charge_metadata.meta_customer_key, stripe_customers.meta_customer_key
        ) as meta_customer_key,
        coalesce(
            paid_invoices.meta_click_id, paid_invoices.sub_click_id,
            charge_metadata.meta_click_id, stripe_customers.meta_click_id
        ) as stripe_click_id,
        paid_invoices.stripe_customer_id,
        stripe_customers.email_normalized as stripe_email,
        paid_invoices.coupon_code,
        paid_invoices.delivery_seq,
        paid_invoices.file_path,
        paid_invoices.line_no
    from paid_invoices
    left join invoice_charge_metadata as charge_metadata
        on paid_invoices.charge_id = charge_metadata.charge_id
    left join stripe_customers
        on paid_invoices.stripe_customer_id = stripe_customers.stripe_customer_id
),

charge_events as (
    select
        'charge' as paid_event_type,
        stripe_charges.charge_id as paid_event_id,
        stripe_charges.created_at as paid_at,
        stripe_charges.currency,
        stripe_charges.amount_cents as event_amount_cents,
        stripe_charges.amount_cents as basis_cents,
        coalesce(stripe_charges.meta_program_id, stripe_customers.meta_program_id) as routed_program_id,
        coalesce(stripe_charges.meta_customer_key, stripe_customers.meta_customer_key) as meta_customer_key,
        coalesce(stripe_charges.meta_click_id, stripe_customers.meta_click_id) as stripe_click_id,
        stripe_charges.stripe_customer_id,
        stripe_customers.email_normalized as stripe_email,
        cast(null as {{ dbt.type_string() }}) as coupon_code,
        stripe_charges.delivery_seq,
        stripe_charges.file_path,
        stripe_charges.line_no
    from stripe_charges
    left join stripe_customers
        on stripe_charges.stripe_customer_id = stripe_customers.stripe_customer_id
    where stripe_charges.status = 'succeeded'
        and stripe_charges.is_paid
        and stripe_charges.amount_cents > 0
),

stripe_events as (
    select * from invoice_events
    union all
    select * from charge_events
),

stripe_routed as (
    select
        stripe_events.*,
        coalesce(stripe_events.routed_program_id, default_program.program_id) as program_id
    from stripe_events
    cross join default_program_id as default_program
),

{# No key in metadata: the earliest signup of the program with the customer's email
    (then the smallest key); else the Stripe customer id (SPEC §1.2). A night ranks the signups
    of the emails of its events only: every signup of an email, so each (program, email) it
    ranks is whole (ranking every signup took 1.1 s of L's night, for a few thousand events). #}
signup_by_email as (
    select
        program_id,
        email_normalized,
        customer_key,
        row_number() over (
            partition by program_id, email_normalized order by occurred_at, customer_key
        ) as email_rank
    from signups
    where email_normalized is not null
    {%- if scope.mode == 'changes' %}
        and email_normalized in (select stripe_events.stripe_email from stripe_events)
    {%- endif %}
),

stripe_identified as (
    select
        stripe_routed.paid_event_type,
        stripe_routed.paid_event_id,
        stripe_routed.paid_at,
        stripe_routed.currency,
        stripe_routed.event_amount_cents,
        stripe_routed.basis_cents,
        stripe_routed.program_id,
        coalesce(
            stripe_routed.meta_customer_key,
            signup_by_email.customer_key,
            stripe_routed.stripe_customer_id
        ) as customer_key,
        stripe_routed.stripe_click_id,
        stripe_routed.stripe_email,
        stripe_routed.coupon_code,
        stripe_routed.delivery_seq,
        stripe_routed.file_path,
        stripe_routed.line_no
    from stripe_routed
    left join signup_by_email
        on stripe_routed.program_id = signup_by_email.program_id
        and stripe_routed.stripe_email = signup_by_email.email_normalized
        and signup_by_email.email_rank = 1
),

sale_events as (
    select
        'sale' as paid_event_type,
        transaction_id as paid_event_id,
        occurred_at as paid_at,
        currency,
        amount_cents as event_amount_cents,
        amount_cents as basis_cents,
        program_id,
        customer_key,
        cast(null as {{ dbt.type_string() }}) as stripe_click_id,
        cast(null as {{ dbt.type_string() }}) as stripe_email,
        coupon_code,
        delivery_seq,
        file_path,
        line_no
    from sales
),

all_events as (
    select * from stripe_identified
    union all
    select * from sale_events
),

with_program as (
    select
        all_events.*,
        programs.currency as program_currency,
        programs.program_id is not null as is_known_program,
        cast(all_events.paid_at as date) as paid_date
    from all_events
    left join programs
        on all_events.program_id = programs.program_id
),

{# The rate in force on a day, looked up once per (currency pair of fx_rates, day of a
    candidate event in that currency): a few thousand lookups instead of one per event (4 s at
    M). The days are read from the three sources, unfiltered (a superset of the events' days is
    enough), so that the wide event rows above are read once, not copied. #}
event_days as (
    select distinct currency, cast(paid_at as date) as paid_date
    from {{ ref('stg_stripe__invoices') }}
    union
    select distinct currency, cast(created_at as date) as paid_date
    from {{ ref('int_stripe_charges_linked') }}
    union
    select distinct currency, cast(occurred_at as date) as paid_date
    from {{ ref('int_sales_validated') }}
),

fx_days as (
    select distinct
        fx_pairs.from_currency as currency,
        fx_pairs.to_currency as program_currency,
        event_days.paid_date
    from (select distinct from_currency, to_currency from fx_rates) as fx_pairs
    inner join event_days
        on fx_pairs.from_currency = event_days.currency
    where event_days.paid_date is not null
),

fx_by_day as (
    select
        fx_days.currency,
        fx_days.program_currency,
        fx_days.paid_date,
        {{ newest_value(
            'fx_rates.rate',
            'fx_rates.valid_from',
            'fx_rates',
            "fx_rates.from_currency = fx_days.currency
        and fx_rates.to_currency = fx_days.program_currency
        and fx_rates.valid_from <= fx_days.paid_date"
        ) | indent(8) }} as fx_rate
    from fx_days
),

with_fx as (
    select
        with_program.*,
        fx_by_day.fx_rate
    from with_program
    left join fx_by_day
        on with_program.currency = fx_by_day.currency
        and with_program.program_currency = fx_by_day.program_currency
        and with_program.paid_date = fx_by_day.paid_date
),

resolved as (
    select
        paid_event_type,
        paid_event_id,
        paid_event_type || ':' || paid_event_id as paid_event_key,
        paid_at,
        program_id,
        customer_key,
        currency,
        program_currency,
        event_amount_cents,
        basis_cents,
        case
            when currency = program_currency then cast(basis_cents as {{ wide_integer_type() }}) * {{ basis_scale() }}
            when fx_rate is not null
                then cast(basis_cents as {{ wide_integer_type() }})
                    * cast(cast(fx_rate as decimal(38, 12)) * {{ basis_scale() }} as {{ wide_integer_type() }})
        end as basis_scaled,
        fx_rate,
        stripe_click_id,
        stripe_email,
        coupon_code,
        delivery_seq,
        file_path,
        line_no,
        case
            when {{ timestamp_bound_reason('paid_at') }} is not null
                then {{ timestamp_bound_reason('paid_at') }}
            when {{ is_amount_out_of_range('event_amount_cents') }}
                or {{ is_amount_out_of_range('basis_cents') }} then 'amount_out_of_range'
            when program_id is null then 'unresolved_program'
            when not is_known_program then 'unknown_program_id'
            when currency is null or not {{ regex_full_match('currency', '[A-Z]{3}') }} then 'invalid_currency'
            when currency != program_currency and fx_rate is null then 'missing_fx_rate'
        end as quarantine_reason
    from with_fx
)

{{ scope_select(scope, 'resolved', 'scope_keys', 'paid_event_key') }}
