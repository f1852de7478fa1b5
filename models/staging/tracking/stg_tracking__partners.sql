{#- Every delivered partners record, typed, with the first row-level rule it breaks. -#}
with source as (
    select * from {{ source('raw', 'tracking_partners') }}
),

typed as (
    select
        delivery_seq,
        file_path,
        line_no,
        {{ csv_line(['partner_id', 'program_id', 'partner_code', 'name', 'email', 'recruited_by',
            'joined_at', 'status', 'status_changed_at', 'payout_method', 'payout_account']) }} as raw_text,
        {{ blank_to_null('partner_id') }} as partner_id,
        {{ blank_to_null('program_id') }} as program_id,
        {{ blank_to_null('partner_code') }} as partner_code,
        name as partner_name,
        email as partner_email,
        {{ normalize_email('email') }} as partner_email_normalized,
        {{ blank_to_null('recruited_by') }} as recruited_by,
        joined_at as joined_at_text,
        {{ parse_utc_timestamp('joined_at') }} as joined_at,
        lower(trim(status)) as status,
        {{ blank_to_null('trim(status_changed_at)') }} as status_changed_at_text,
        {{ parse_utc_timestamp('status_changed_at') }} as status_changed_at,
        {{ blank_to_null('lower(trim(payout_method))') }} as payout_method,
        {{ blank_to_null('payout_account') }} as payout_account
    from source
),

checked as (
    select
        *,
        case
            when partner_id is null then 'missing_key'
            when program_id is null or partner_code is null or joined_at_text is null
                or status is null or status = '' then 'missing_required_field'
            when joined_at is null then 'invalid_timestamp'
            when status_changed_at_text is not null and status_changed_at is null then 'invalid_timestamp'
            when status not in ('active', 'suspended', 'terminated') then 'invalid_status'
            when payout_method is not null
                and payout_method not in ('paypal', 'sepa', 'wise', 'manual') then 'invalid_payout_method'
        end as row_error
    from typed
)

select * from checked
