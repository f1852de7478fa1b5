with source as (
    select * from {{ source('raw', 'tracking_adjustments') }}
),

typed as (
    select
        delivery_seq,
        file_path,
        line_no,
        {{ csv_line(
            ['adjustment_id', 'program_id', 'partner_id', 'amount_cents', 'effective_at', 'reason']
        ) }} as raw_text,
        {{ blank_to_null('adjustment_id') }} as adjustment_id,
        {{ blank_to_null('program_id') }} as program_id,
        {{ blank_to_null('partner_id') }} as partner_id,
        amount_cents as amount_cents_text,
        {{ parse_integer('amount_cents') }} as amount_cents,
        effective_at as effective_at_text,
        {{ parse_utc_timestamp('effective_at') }} as effective_at,
        reason as adjustment_reason
    from source
),

checked as (
    select
        *,
        case
            when adjustment_id is null then 'missing_key'
            when program_id is null or partner_id is null or amount_cents_text is null
                or effective_at_text is null then 'missing_required_field'
            when amount_cents is null or amount_cents = 0 then 'invalid_amount'
            when {{ is_amount_out_of_range('amount_cents') }} then 'amount_out_of_range'
            when effective_at is null then 'invalid_timestamp'
        end as row_error
    from typed
)

select * from checked
