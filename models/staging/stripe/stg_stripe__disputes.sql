{#- The latest delivered version of each Stripe dispute (SPEC §1.2: a later line with the same
    id supersedes an earlier one; deliveries in arrival order, then line), typed. Incremental:
    a night parses only the lines loaded since the last build and replaces the stored version
    of the ids they carry (macros/stripe_latest.sql, docs/decisions/0012). -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='dispute_id',
    incremental_strategy='delete+insert',
) }}

with latest as (
    {{ stripe_latest('disputes') }}
),

typed as (
    select
        delivery_seq,
        file_path,
        line_no,
        object_id as dispute_id,
        {{ json_ref('body', '$.charge') }} as charge_id,
        {{ dbt.safe_cast(json_str('body', '$.amount'), dbt.type_bigint()) }} as amount_cents,
        upper({{ json_str('body', '$.currency') }}) as currency,
        {{ json_str('body', '$.status') }} as status,
        {{ from_unix_seconds(json_str('body', '$.created')) }} as created_at
    from latest
)

select * from typed
