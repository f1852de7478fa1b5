{#- The latest delivered version of each Stripe charge (SPEC §1.2: a later line with the same
    id supersedes an earlier one; deliveries in arrival order, then line), typed. Incremental:
    a night parses only the lines loaded since the last build and replaces the stored version
    of the ids they carry (macros/stripe_latest.sql, docs/decisions/0012). -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='charge_id',
    incremental_strategy='delete+insert',
    written_key='charge_id',
) }}

{%- set paths = [
    '$.invoice',
    '$.customer',
    '$.amount',
    '$.currency',
    '$.status',
    '$.paid',
    '$.created',
    '$.metadata.program_id',
    '$.metadata.affitor_customer_key',
    '$.metadata.affitor_click_id',
] -%}

with latest as (
    {{ stripe_latest('charges', paths) }}
),

typed as (
    select
        delivery_seq,
        file_path,
        line_no,
        object_id as charge_id,
        {{ json_ref('fields', '$.invoice', paths) }} as invoice_id,
        {{ json_ref('fields', '$.customer', paths) }} as stripe_customer_id,
        {{ dbt.safe_cast(json_str('fields', '$.amount', paths), dbt.type_bigint()) }} as amount_cents,
        upper({{ json_str('fields', '$.currency', paths) }}) as currency,
        {{ json_str('fields', '$.status', paths) }} as status,
        coalesce({{ dbt.safe_cast(json_str('fields', '$.paid', paths), dbt.type_boolean()) }}, false) as is_paid,
        {{ from_unix_seconds(json_str('fields', '$.created', paths)) }} as created_at,
        nullif({{ json_str('fields', '$.metadata.program_id', paths) }}, '') as meta_program_id,
        nullif({{ json_str('fields', '$.metadata.affitor_customer_key', paths) }}, '') as meta_customer_key,
        nullif({{ json_str('fields', '$.metadata.affitor_click_id', paths) }}, '') as meta_click_id
    from latest
)

select * from typed
