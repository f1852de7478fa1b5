{#- The latest delivered version of each Stripe charge (SPEC §1.2: a later line with the same
    id supersedes an earlier one; deliveries in arrival order, then line), typed. Incremental:
    a night parses only the lines loaded since the last build and replaces the stored version
    of the ids they carry (macros/stripe_latest.sql, docs/decisions/0012). -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='charge_id',
    incremental_strategy='delete+insert',
) }}

with latest as (
    {{ stripe_latest('charges') }}
),

typed as (
    select
        delivery_seq,
        file_path,
        line_no,
        object_id as charge_id,
        {{ json_ref('body', '$.invoice') }} as invoice_id,
        {{ json_ref('body', '$.customer') }} as stripe_customer_id,
        {{ dbt.safe_cast(json_str('body', '$.amount'), dbt.type_bigint()) }} as amount_cents,
        upper({{ json_str('body', '$.currency') }}) as currency,
        {{ json_str('body', '$.status') }} as status,
        coalesce({{ dbt.safe_cast(json_str('body', '$.paid'), dbt.type_boolean()) }}, false) as is_paid,
        {{ from_unix_seconds(json_str('body', '$.created')) }} as created_at,
        nullif({{ json_str('body', '$.metadata.program_id') }}, '') as meta_program_id,
        nullif({{ json_str('body', '$.metadata.affitor_customer_key') }}, '') as meta_customer_key,
        nullif({{ json_str('body', '$.metadata.affitor_click_id') }}, '') as meta_click_id
    from latest
)

select * from typed
