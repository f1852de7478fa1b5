with source as (
    select * from {{ source('raw', 'tracking_leads') }}
),

typed as (
    select
        delivery_seq,
        file_path,
        line_no,
        {{ csv_line(['lead_id', 'program_id', 'partner_code', 'email', 'occurred_at']) }} as raw_text,
        {{ blank_to_null('lead_id') }} as lead_id,
        {{ blank_to_null('program_id') }} as program_id,
        {{ blank_to_null('partner_code') }} as partner_code,
        {{ normalize_email('email') }} as email_normalized,
        occurred_at as occurred_at_text,
        {{ parse_utc_timestamp('occurred_at') }} as occurred_at
    from source
),

checked as (
    select
        *,
        case
            when lead_id is null then 'missing_key'
            when program_id is null or partner_code is null or email_normalized is null
                or occurred_at_text is null then 'missing_required_field'
            when occurred_at is null then 'invalid_timestamp'
        end as row_error
    from typed
)

select * from checked
