{#- The latest delivered version of each Stripe dispute (SPEC §1.2: a later line with the same
    id supersedes an earlier one; deliveries in arrival order, then line), typed. Incremental:
    a night parses only the lines loaded since the last build and replaces the stored version
    of the ids they carry (macros/stripe_latest.sql, docs/decisions/0012). -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='dispute_id',
    incremental_strategy='delete+insert',
    written_key='dispute_id',
) }}

{%- set paths = [
    '$.charge',
    '$.amount',
    '$.currency',
    '$.status',
    '$.created',
] -%}

with latest as (
    {{ stripe_latest('disputes', paths) }}
),

typed as (
    select
        delivery_seq,
        file_path,
        line_no,
        object_id as dispute_id,
        {{ json_ref('fields', '$.charge', paths) }} as charge_id,
        {{ dbt.safe_cast(json_str('fields', '$.amount', paths), dbt.type_bigint()) }} as amount_cents,
        upper({{ json_str('fields', '$.currency', paths) }}) as currency,
        {{ json_str('fields', '$.status', paths) }} as status,
        {{ from_unix_seconds(json_str('fields', '$.created', paths)) }} as created_at
    from latest
)

select * from typed
