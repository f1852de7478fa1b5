{#- The latest delivered version of each Stripe customer (SPEC §1.2: a later line with the same
    id supersedes an earlier one; deliveries in arrival order, then line), typed. Incremental:
    a night parses only the lines loaded since the last build (raw.stripe_objects is
    append-only and delivery_seq only grows, so every new line is newer than every stored
    one) and replaces the stored version of the ids they carry (docs/decisions/0012). -#}
{{ config(
    materialized='incremental',
    unique_key='stripe_customer_id',
    incremental_strategy='delete+insert',
) }}

with delivered as (
    select delivery_seq, file_path, line_no, object_id, body
    from {{ source('raw', 'stripe_objects') }}
    where object_type = 'customers'
    {% if is_incremental() %}
        and delivery_seq > (select coalesce(max(delivery_seq), 0) from {{ this }})
    {% endif %}
),

latest as (
    select *
    from (
        select
            *,
            row_number() over (
                partition by object_id order by delivery_seq desc, line_no desc
            ) as version_rank
        from delivered
    ) as versions
    where version_rank = 1
),

typed as (
    select
        delivery_seq,
        file_path,
        line_no,
        object_id as stripe_customer_id,
        {{ normalize_email(json_str('body', '$.email')) }} as email_normalized,
        {{ from_unix_seconds(json_str('body', '$.created')) }} as created_at,
        nullif({{ json_str('body', '$.metadata.affitor_customer_key') }}, '') as meta_customer_key,
        nullif({{ json_str('body', '$.metadata.program_id') }}, '') as meta_program_id,
        nullif({{ json_str('body', '$.metadata.affitor_click_id') }}, '') as meta_click_id
    from latest
)

select * from typed
