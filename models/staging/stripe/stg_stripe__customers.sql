{#- The latest delivered version of each Stripe customer (SPEC §1.2: a later line with the same
    id supersedes an earlier one; deliveries in arrival order, then line), typed. Incremental:
    a night parses only the lines loaded since the last build and replaces the stored version
    of the ids they carry (macros/stripe_latest.sql, docs/decisions/0012). -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='stripe_customer_id',
    incremental_strategy='delete+insert',
    written_key='stripe_customer_id',
) }}

{%- set paths = [
    '$.email',
    '$.created',
    '$.metadata.affitor_customer_key',
    '$.metadata.program_id',
    '$.metadata.affitor_click_id',
] -%}

with latest as (
    {{ stripe_latest('customers', paths) }}
),

typed as (
    select
        delivery_seq,
        file_path,
        line_no,
        object_id as stripe_customer_id,
        {{ normalize_email(json_str('fields', '$.email', paths)) }} as email_normalized,
        {{ from_unix_seconds(json_str('fields', '$.created', paths)) }} as created_at,
        nullif({{ json_str('fields', '$.metadata.affitor_customer_key', paths) }}, '') as meta_customer_key,
        nullif({{ json_str('fields', '$.metadata.program_id', paths) }}, '') as meta_program_id,
        nullif({{ json_str('fields', '$.metadata.affitor_click_id', paths) }}, '') as meta_click_id
    from latest
)

select * from typed
