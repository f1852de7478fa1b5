{#- Every delivered version of each Stripe dispute, parsed once: the JSON is read when the line
    arrives and never again (raw.stripe_objects is append-only and delivery_seq only grows, so
    a night parses only what it loaded). The body stays in the raw table; the quarantine reads
    it back for the few rows it reports. -#}
{{ config(materialized='incremental', incremental_strategy='append') }}

with delivered as (
    select delivery_seq, file_path, line_no, object_id, body
    from {{ source('raw', 'stripe_objects') }}
    where object_type = 'disputes'
    {% if is_incremental() %}
        and delivery_seq > (select coalesce(max(delivery_seq), 0) from {{ this }})
    {% endif %}
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
    from delivered
)

select * from typed
