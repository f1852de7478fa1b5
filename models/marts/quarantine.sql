{#- Every record this run rejects, with its file, line, raw text and reason (SPEC §1.1):
    records that could not be parsed, records that break a row rule, and records that fail a
    check against another table for this run. Records timestamped at or after the as-of are
    not seen, so not judged, except that one timestamped more than a day after it is reported
    as `timestamp_in_future` (docs/decisions/0015). -#}
with unparsed as (
    select
        table_name as source_table,
        file_path,
        line_no,
        raw_text,
        reason
    from {{ source('raw', 'ingest_rejects') }}
),

rejected_partners as (
    select
        'partners' as source_table,
        file_path,
        line_no,
        raw_text,
        quarantine_reason as reason
    from {{ ref('int_partners_validated') }}
    where {{ shown_in_quarantine('quarantine_reason', 'record_at') }}
),

rejected_coupons as (
    select
        'coupons' as source_table,
        file_path,
        line_no,
        raw_text,
        quarantine_reason as reason
    from {{ ref('int_coupons_validated') }}
    where {{ shown_in_quarantine('quarantine_reason', 'record_at') }}
),

rejected_leads as (
    select
        'leads' as source_table,
        file_path,
        line_no,
        raw_text,
        quarantine_reason as reason
    from {{ ref('int_leads_validated') }}
    where {{ shown_in_quarantine('quarantine_reason', 'record_at') }}
),

rejected_signups as (
    select
        'signups' as source_table,
        file_path,
        line_no,
        raw_text,
        quarantine_reason as reason
    from {{ ref('int_signups_validated') }}
    where {{ shown_in_quarantine('quarantine_reason', 'record_at') }}
),

rejected_sales as (
    select
        'sales' as source_table,
        file_path,
        line_no,
        raw_text,
        quarantine_reason as reason
    from {{ ref('int_sales_validated') }}
    where {{ shown_in_quarantine('quarantine_reason', 'record_at') }}
),

rejected_adjustments as (
    select
        'adjustments' as source_table,
        file_path,
        line_no,
        raw_text,
        quarantine_reason as reason
    from {{ ref('int_adjustments_validated') }}
    where {{ shown_in_quarantine('quarantine_reason', 'record_at') }}
),

{# The clicks, with their text: int_clicks_quarantined keeps the text of the clicks it shows
    from one night to the next, and reads the raw clicks only for those it starts to show. #}
rejected_clicks as (
    select
        'clicks' as source_table,
        file_path,
        line_no,
        raw_text,
        quarantine_reason as reason
    from {{ ref('int_clicks_quarantined') }}
),

{# Paid events, refunds and Stripe objects keep no text past their parse: the raw text of the
    few rejected ones is read back from the record they were parsed from (a Stripe line, or the
    validated Sale API row). #}
rejected_money_rows as (
    select
        paid_event_type || 's' as source_table,
        delivery_seq,
        file_path,
        line_no,
        quarantine_reason as reason
    from {{ ref('int_paid_events_resolved') }}
    where quarantine_reason is not null
    union all
    select
        case refund_type when 'sale_refund' then 'sales' else refund_type || 's' end as source_table,
        delivery_seq,
        file_path,
        line_no,
        quarantine_reason as reason
    from {{ ref('int_refunds_matched') }}
    where quarantine_reason is not null
),

{# A Stripe object that would count (a paid invoice, a charge, a refund, a dispute) but whose
    timestamp is missing or not a number cannot be placed in time: quarantined, never dropped. #}
rejected_stripe_timestamps as (
    select 'invoices' as source_table, delivery_seq, file_path, line_no, 'invalid_timestamp' as reason
    from {{ ref('stg_stripe__invoices') }}
    where status = 'paid' and paid_at is null
    union all
    select 'charges' as source_table, delivery_seq, file_path, line_no, 'invalid_timestamp' as reason
    from {{ ref('stg_stripe__charges') }}
    where created_at is null
    union all
    select 'refunds' as source_table, delivery_seq, file_path, line_no, 'invalid_timestamp' as reason
    from {{ ref('stg_stripe__refunds') }}
    where created_at is null
    union all
    select 'disputes' as source_table, delivery_seq, file_path, line_no, 'invalid_timestamp' as reason
    from {{ ref('stg_stripe__disputes') }}
    where created_at is null
    union all
    select 'customers' as source_table, delivery_seq, file_path, line_no, 'invalid_timestamp' as reason
    from {{ ref('stg_stripe__customers') }}
    where created_at is null
),

rejected_stripe_and_sales as (
    select * from rejected_money_rows
    union all
    select * from rejected_stripe_timestamps
),

{# The Stripe lines of the rejected rows, found on the line's key alone: a join condition that
    also tests the source (not a sale) made DuckDB loop over every Stripe line and read every
    body (4.2 million at M, 7 s). #}
rejected_stripe_keys as (
    select distinct delivery_seq, line_no
    from rejected_stripe_and_sales
    where source_table != 'sales'
),

rejected_stripe_lines as (
    select
        stripe_lines.delivery_seq,
        stripe_lines.line_no,
        stripe_lines.body
    from {{ source('raw', 'stripe_objects') }} as stripe_lines
    inner join rejected_stripe_keys as stripe_keys
        on stripe_lines.delivery_seq = stripe_keys.delivery_seq
        and stripe_lines.line_no = stripe_keys.line_no
),

rejected_with_text as (
    select
        rejected.source_table,
        rejected.file_path,
        rejected.line_no,
        coalesce(stripe_lines.body, sales.raw_text) as raw_text,
        rejected.reason
    from rejected_stripe_and_sales as rejected
    left join rejected_stripe_lines as stripe_lines
        on rejected.source_table != 'sales'
        and rejected.delivery_seq = stripe_lines.delivery_seq
        and rejected.line_no = stripe_lines.line_no
    left join {{ ref('int_sales_validated') }} as sales
        on rejected.source_table = 'sales'
        and rejected.delivery_seq = sales.delivery_seq
        and rejected.line_no = sales.line_no
),

all_rejected as (
    select * from unparsed
    union all
    select * from rejected_partners
    union all
    select * from rejected_coupons
    union all
    select * from rejected_leads
    union all
    select * from rejected_signups
    union all
    select * from rejected_sales
    union all
    select * from rejected_adjustments
    union all
    select * from rejected_clicks
    union all
    select * from rejected_with_text
)

select
    {{ dbt.hash(
        "concat_ws('|', source_table, file_path, cast(line_no as " ~ dbt.type_string() ~ "), reason)"
    ) }} as quarantine_id,
    *,
    {{ as_of_date() }} as as_of
from all_rejected
