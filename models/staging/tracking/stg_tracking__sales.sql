with source as (
    select * from {{ source('raw', 'tracking_sales') }}
),

typed as (
    select
        delivery_seq,
        file_path,
        line_no,
        {{ csv_line(['transaction_id', 'program_id', 'customer_key', 'kind', 'amount_cents',
            'currency', 'occurred_at', 'refund_of', 'coupon_code']) }} as raw_text,
        {{ blank_to_null('transaction_id') }} as transaction_id,
        {{ blank_to_null('program_id') }} as program_id,
        {{ blank_to_null('customer_key') }} as customer_key,
        lower(trim(kind)) as kind,
        amount_cents as amount_cents_text,
        {{ parse_integer('amount_cents') }} as amount_cents,
        upper(trim(currency)) as currency,
        occurred_at as occurred_at_text,
        {{ parse_utc_timestamp('occurred_at') }} as occurred_at,
        {{ blank_to_null('refund_of') }} as refund_of,
        {{ blank_to_null('coupon_code') }} as coupon_code
    from source
),

checked as (
    select
        *,
        case
            when transaction_id is null then 'missing_key'
            when program_id is null or kind is null or kind = '' or amount_cents_text is null
                or currency is null or occurred_at_text is null then 'missing_required_field'
            when kind = 'sale' and customer_key is null then 'missing_required_field'
            when kind = 'refund' and refund_of is null then 'missing_required_field'
            when kind not in ('sale', 'refund') then 'invalid_kind'
            when amount_cents is null or amount_cents <= 0 then 'invalid_amount'
            when {{ is_amount_out_of_range('amount_cents') }} then 'amount_out_of_range'
            when not {{ regex_full_match('currency', '[A-Z]{3}') }} then 'invalid_currency'
            when occurred_at is null then 'invalid_timestamp'
        end as row_error
    from typed
)

select * from checked
