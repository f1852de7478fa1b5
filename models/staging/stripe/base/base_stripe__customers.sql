{#- Every delivered version of each Stripe customer, parsed once: the JSON is read when the line
    arrives and never again (raw.stripe_objects is append-only and delivery_seq only grows, so
    a night parses only what it loaded). The body stays in the raw table; the quarantine reads
    it back for the few rows it reports. -#}
{{ config(materialized='incremental', incremental_strategy='append') }}

with delivered as (
    select delivery_seq, file_path, line_no, object_id, body
    from {{ source('raw', 'stripe_objects') }}
    where object_type = 'customers'
    {% if is_incremental() %}
        and delivery_seq > (select coalesce(max(delivery_seq), 0) from {{ this }})
    {% endif %}
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
    from delivered
)

select * from typed
