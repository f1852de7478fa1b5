with source as (
    select * from {{ source('raw', 'tracking_clicks') }}
),

typed as (
    select
        delivery_seq,
        file_path,
        line_no,
        {{ csv_line(
            ['click_id', 'program_id', 'partner_code', 'occurred_at', 'visitor_id', 'landing_url']
        ) }} as raw_text,
        {{ blank_to_null('click_id') }} as click_id,
        {{ blank_to_null('program_id') }} as program_id,
        {{ blank_to_null('partner_code') }} as partner_code,
        occurred_at as occurred_at_text,
        {{ parse_utc_timestamp('occurred_at') }} as occurred_at,
        {{ blank_to_null('visitor_id') }} as visitor_id,
        landing_url
    from source
),

checked as (
    select
        *,
        case
            when click_id is null then 'missing_key'
            when program_id is null or partner_code is null or occurred_at_text is null
                then 'missing_required_field'
            when occurred_at is null then 'invalid_timestamp'
        end as row_error
    from typed
)

select * from checked
