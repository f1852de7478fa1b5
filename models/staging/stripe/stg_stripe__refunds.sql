with latest as (
    {{ stripe_latest('refunds') }}
),

typed as (
    select
        delivery_seq,
        file_path,
        line_no,
        body as raw_text,
        object_id as refund_id,
        {{ json_ref('body', '$.charge') }} as charge_id,
        {{ dbt.safe_cast(json_str('body', '$.amount'), dbt.type_bigint()) }} as amount_cents,
        upper({{ json_str('body', '$.currency') }}) as currency,
        {{ json_str('body', '$.status') }} as status,
        {{ from_unix_seconds(json_str('body', '$.created')) }} as created_at
    from latest
)

select * from typed
