{#- Every record this run rejects, with its file, line, raw text and reason (SPEC §1.1):
    records that could not be parsed, records that break a row rule, and records that fail a
    check against another table for this run. Records timestamped at or after the as-of are
    not seen, so not judged. -#}
{% set tracking = ['partners', 'coupons', 'clicks', 'leads', 'signups', 'sales', 'adjustments'] %}
with unparsed as (
    select
        table_name as source_table,
        file_path,
        line_no,
        raw_text,
        reason
    from {{ source('raw', 'ingest_rejects') }}
),

{% for table in tracking %}
rejected_{{ table }} as (
    select
        '{{ table }}' as source_table,
        file_path,
        line_no,
        raw_text,
        quarantine_reason as reason
    from {{ ref('int_' ~ table ~ '_validated') }}
    where quarantine_reason is not null
        and (record_at is null or {{ is_visible('record_at') }})
),

{% endfor %}
rejected_paid_events as (
    select
        paid_event_type || 's' as source_table,
        file_path,
        line_no,
        raw_text,
        quarantine_reason as reason
    from {{ ref('int_paid_events_resolved') }}
    where quarantine_reason is not null
),

rejected_refunds as (
    select
        case refund_type when 'sale_refund' then 'sales' else refund_type || 's' end as source_table,
        file_path,
        line_no,
        raw_text,
        quarantine_reason as reason
    from {{ ref('int_refunds_matched') }}
    where quarantine_reason is not null
),

all_rejected as (
    select * from unparsed
    {% for table in tracking %}
    union all
    select * from rejected_{{ table }}
    {% endfor %}
    union all
    select * from rejected_paid_events
    union all
    select * from rejected_refunds
)

select
    {{ dbt.hash("concat_ws('|', source_table, file_path, cast(line_no as varchar), reason)") }} as quarantine_id,
    *,
    {{ as_of_date() }} as as_of
from all_rejected
