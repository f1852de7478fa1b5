{#- Sale API rows (SPEC §1.1). A refund must find a visible sale of the same program and
    currency; the check runs on the newest version, and a refund that fails it is quarantined
    and absent for this run. -#}

with records as (
    select * from {{ ref('stg_tracking__sales') }}
),

programs as (
    select program_id from {{ ref('stg_rules__programs') }}
),

records_checked as (
    select
        records.*,
        records.occurred_at as record_at,
        {{ record_quarantine_reason('records.row_error', 'records.occurred_at', 'programs.program_id') }}
            as quarantine_reason
    from records
    left join programs
        on records.program_id = programs.program_id
),

{# the newest valid delivery of a key, then its last line, is the version in force #}
ranked as (
    select
        *,
        row_number() over (
            partition by transaction_id, quarantine_reason is null
            order by delivery_seq desc, line_no desc
        ) as version_rank
    from records_checked
),

versions as (
    select
        *,
        quarantine_reason is null and version_rank = 1 as is_newest,
        (
            quarantine_reason is null
            and version_rank = 1
            and (record_at is null or {{ is_visible('record_at') }})
        ) as is_visible
    from ranked
),

visible_sales as (
    select transaction_id, program_id, currency
    from versions
    where is_visible and kind = 'sale'
),

checked as (
    select
        versions.delivery_seq,
        versions.file_path,
        versions.line_no,
        versions.raw_text,
        versions.transaction_id,
        versions.program_id,
        versions.customer_key,
        versions.kind,
        versions.amount_cents_text,
        versions.amount_cents,
        versions.currency,
        versions.occurred_at_text,
        versions.occurred_at,
        versions.refund_of,
        versions.coupon_code,
        versions.row_error,
        versions.record_at,
        versions.version_rank,
        versions.is_newest,
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
