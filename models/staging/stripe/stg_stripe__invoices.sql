{#- The latest delivered version of each Stripe invoice (SPEC §1.2: a later line with the same
    id supersedes an earlier one; deliveries in arrival order, then line), typed. Incremental:
    a night parses only the lines loaded since the last build and replaces the stored version
    of the ids they carry (macros/stripe_latest.sql, docs/decisions/0012). -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='invoice_id',
    incremental_strategy='delete+insert',
    written_key='invoice_id',
) }}

{%- set paths = [
    '$.customer',
    '$.subscription',
    '$.status',
    '$.currency',
    '$.amount_paid',
    '$.tax',
    '$.status_transitions.paid_at',
    '$.charge',
    '$.discount.coupon.id',
    '$.metadata.program_id',
    '$.metadata.affitor_customer_key',
    '$.metadata.affitor_click_id',
    '$.subscription_details.metadata.program_id',
    '$.subscription_details.metadata.affitor_customer_key',
    '$.subscription_details.metadata.affitor_click_id',
] -%}

with latest as (
    {{ stripe_latest('invoices', paths) }}
),

typed as (
    select
        delivery_seq,
        file_path,
        line_no,
        object_id as invoice_id,
        {{ json_ref('fields', '$.customer', paths) }} as stripe_customer_id,
        {{ json_ref('fields', '$.subscription', paths) }} as subscription_id,
        {{ json_str('fields', '$.status', paths) }} as status,
        upper({{ json_str('fields', '$.currency', paths) }}) as currency,
        {{ dbt.safe_cast(json_str('fields', '$.amount_paid', paths), dbt.type_bigint()) }} as amount_paid_cents,
        coalesce({{ dbt.safe_cast(json_str('fields', '$.tax', paths), dbt.type_bigint()) }}, 0) as tax_cents,
        {{ from_unix_seconds(json_str('fields', '$.status_transitions.paid_at', paths)) }} as paid_at,
        {{ json_ref('fields', '$.charge', paths) }} as charge_id,
        nullif({{ json_str('fields', '$.discount.coupon.id', paths) }}, '') as coupon_code,
        nullif({{ json_str('fields', '$.metadata.program_id', paths) }}, '') as meta_program_id,
        nullif({{ json_str('fields', '$.metadata.affitor_customer_key', paths) }}, '') as meta_customer_key,
        nullif({{ json_str('fields', '$.metadata.affitor_click_id', paths) }}, '') as meta_click_id,
        nullif({{ json_str('fields', '$.subscription_details.metadata.program_id', paths) }}, '') as sub_program_id,
        nullif(
            {{ json_str('fields', '$.subscription_details.metadata.affitor_customer_key', paths) }}, ''
        ) as sub_customer_key,
        nullif({{ json_str('fields', '$.subscription_details.metadata.affitor_click_id', paths) }}, '') as sub_click_id
    from latest
)

select * from typed
