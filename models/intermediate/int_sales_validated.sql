{#- Sale API rows (SPEC §1.1). A refund must find a visible sale of the same program and
    currency; the check runs on the newest version, and a refund that fails it is quarantined
    and absent for this run. -#}
{%- set version_columns = [
    'delivery_seq', 'file_path', 'line_no', 'raw_text', 'transaction_id', 'program_id',
    'customer_key', 'kind', 'amount_cents_text', 'amount_cents', 'currency', 'occurred_at_text',
    'occurred_at', 'refund_of', 'coupon_code', 'row_error', 'record_at', 'version_rank', 'is_newest',
] %}

with versions as (
    {{ validated_versions('stg_tracking__sales', ['transaction_id'], 'occurred_at') }}
),

visible_sales as (
    select transaction_id, program_id, currency
    from versions
    where is_visible and kind = 'sale'
),

checked as (
    select
        {%- for column in version_columns %}
        versions.{{ column }},
        {%- endfor %}
        case
            when versions.is_visible and versions.kind = 'refund' and visible_sales.transaction_id is null
                then 'refund_without_sale'
            else versions.quarantine_reason
        end as quarantine_reason,
        versions.is_visible
        and not (versions.kind = 'refund' and visible_sales.transaction_id is null) as is_visible
    from versions
    left join visible_sales
        on versions.refund_of = visible_sales.transaction_id
        and versions.program_id = visible_sales.program_id
        and versions.currency = visible_sales.currency
)

select * from checked
