with latest as (
    {{ stripe_latest('customers') }}
),

typed as (
    select
        delivery_seq,
        file_path,
        line_no,
        body as raw_text,
        object_id as stripe_customer_id,
        {{ normalize_email(json_str('body', '$.email')) }} as email_normalized,
        {{ from_unix_seconds(json_str('body', '$.created')) }} as created_at,
        nullif({{ json_str('body', '$.metadata.affitor_customer_key') }}, '') as meta_customer_key,
        nullif({{ json_str('body', '$.metadata.program_id') }}, '') as meta_program_id,
        nullif({{ json_str('body', '$.metadata.affitor_click_id') }}, '') as meta_click_id
    from latest
)

select * from typed
