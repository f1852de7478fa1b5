{#- The latest delivered version of each Stripe invoice (SPEC §1.2: a later line with the same
    id supersedes an earlier one; deliveries in arrival order, then line), typed. Incremental:
    a night parses only the lines loaded since the last build and replaces the stored version
    of the ids they carry (macros/stripe_latest.sql, docs/decisions/0012). -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='invoice_id',
    incremental_strategy='delete+insert',
) }}

with latest as (
    {{ stripe_latest('invoices') }}
),

typed as (
    select
        delivery_seq,
        file_path,
        line_no,
        object_id as invoice_id,
        {{ json_ref('body', '$.customer') }} as stripe_customer_id,
        {{ json_ref('body', '$.subscription') }} as subscription_id,
        {{ json_str('body', '$.status') }} as status,
        upper({{ json_str('body', '$.currency') }}) as currency,
        {{ dbt.safe_cast(json_str('body', '$.amount_paid'), dbt.type_bigint()) }} as amount_paid_cents,
        coalesce({{ dbt.safe_cast(json_str('body', '$.tax'), dbt.type_bigint()) }}, 0) as tax_cents,
        {{ from_unix_seconds(json_str('body', '$.status_transitions.paid_at')) }} as paid_at,
        {{ json_ref('body', '$.charge') }} as charge_id,
        nullif({{ json_str('body', '$.discount.coupon.id') }}, '') as coupon_code,
        nullif({{ json_str('body', '$.metadata.program_id') }}, '') as meta_program_id,
        nullif({{ json_str('body', '$.metadata.affitor_customer_key') }}, '') as meta_customer_key,
        nullif({{ json_str('body', '$.metadata.affitor_click_id') }}, '') as meta_click_id,
        nullif({{ json_str('body', '$.subscription_details.metadata.program_id') }}, '') as sub_program_id,
        nullif({{ json_str('body', '$.subscription_details.metadata.affitor_customer_key') }}, '') as sub_customer_key,
        nullif({{ json_str('body', '$.subscription_details.metadata.affitor_click_id') }}, '') as sub_click_id
    from latest
)

select * from typed
