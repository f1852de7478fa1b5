{#- Every delivered version of each Stripe charge, parsed once: the JSON is read when the line
    arrives and never again (raw.stripe_objects is append-only and delivery_seq only grows, so
    a night parses only what it loaded). The body stays in the raw table; the quarantine reads
    it back for the few rows it reports. -#}
{{ config(materialized='incremental', incremental_strategy='append') }}

with delivered as (
    select delivery_seq, file_path, line_no, object_id, body
    from {{ source('raw', 'stripe_objects') }}
    where object_type = 'charges'
    {% if is_incremental() %}
        and delivery_seq > (select coalesce(max(delivery_seq), 0) from {{ this }})
    {% endif %}
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
    from delivered
)

select * from typed
