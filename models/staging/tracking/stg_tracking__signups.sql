with source as (
    select * from {{ source('raw', 'tracking_signups') }}
),

typed as (
    select
        delivery_seq,
        file_path,
        line_no,
        {{ csv_line(['program_id', 'customer_key', 'email', 'occurred_at', 'click_id', 'visitor_id']) }} as raw_text,
        {{ blank_to_null('program_id') }} as program_id,
        {{ blank_to_null('customer_key') }} as customer_key,
        {{ normalize_email('email') }} as email_normalized,
        occurred_at as occurred_at_text,
        {{ parse_utc_timestamp('occurred_at') }} as occurred_at,
        {{ blank_to_null('click_id') }} as click_id,
        {{ blank_to_null('visitor_id') }} as visitor_id
    from source
),

checked as (
    select
        *,
        case
            when program_id is null or customer_key is null then 'missing_key'
            when occurred_at_text is null then 'missing_required_field'
            when occurred_at is null then 'invalid_timestamp'
        end as row_error
    from typed
)

select * from checked
