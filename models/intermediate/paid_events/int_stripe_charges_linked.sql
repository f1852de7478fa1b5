{#- Visible Stripe charges with the invoice they belong to: the charge names the invoice, or
    the invoice names the charge (some Stripe-compatible servers leave charge.invoice empty on
    invoice charges). A charge with an invoice is not a paid event of its own; its refunds and
    disputes apply to the invoice's paid event (SPEC §1.2, §2.3).

    Scoped (macros/change_scope.sql, docs/decisions/0026): a night recomputes only the charges
    whose row may have changed since the last build (stripe_charges_scope). -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='charge_id',
    incremental_strategy='scope_replace',
    post_hook="{{ record_scope_marks() }}",
) }}

{{ scope_dependencies() }}
{%- set scope = change_scope() %}
-- scope: {{ scope.mode }} ({{ scope.why }})

with
{%- if scope.mode == 'changes' %}

scope as (
    {{ materialized_scope('charges', stripe_charges_scope(scope)) | indent(4) }}
),
{%- endif %}

charges as (
    select * from {{ ref('stg_stripe__charges') }}
    where {{ is_visible('created_at') }}
    {%- if scope.mode == 'changes' %}
        and charge_id in (select scope.charge_id from scope)
    {%- endif %}
),

{# A charge belongs to one invoice. Should several invoices name the same charge (malformed
    data: hostile input had 426 invoices naming one charge), the first by id is linked, so that
    the charge, and every invoice joined to it, stays one row. #}
invoice_charge_links as (
    select charge_id, min(invoice_id) as invoice_id
    from {{ ref('stg_stripe__invoices') }}
    where charge_id is not null
    {%- if scope.mode == 'changes' %}
        and charge_id in (select scope.charge_id from scope)
    {%- endif %}
    group by charge_id
),

linked as (
    select
        charges.delivery_seq,
        charges.file_path,
        charges.line_no,
        charges.charge_id,
        coalesce(charges.invoice_id, invoice_charge_links.invoice_id) as invoice_id,
        charges.stripe_customer_id,
        charges.amount_cents,
        charges.currency,
        charges.status,
        charges.is_paid,
        charges.created_at,
        charges.meta_program_id,
        charges.meta_customer_key,
        charges.meta_click_id
    from charges
    left join invoice_charge_links
        on charges.charge_id = invoice_charge_links.charge_id
)

{{ scope_select(scope, 'linked', 'scope', 'charge_id') }}
