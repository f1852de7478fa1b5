with source as (
    select * from {{ source('raw', 'tracking_coupons') }}
),

typed as (
    select
        delivery_seq,
        file_path,
        line_no,
        {{ csv_line(['coupon_code', 'program_id', 'partner_id']) }} as raw_text,
        {{ blank_to_null('coupon_code') }} as coupon_code,
        {{ blank_to_null('program_id') }} as program_id,
        {{ blank_to_null('partner_id') }} as partner_id
    from source
),

checked as (
    select
        *,
        case
            when coupon_code is null or program_id is null then 'missing_key'
            when partner_id is null then 'missing_required_field'
        end as row_error
    from typed
)

select * from checked
