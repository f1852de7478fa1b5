{#- Every record this run rejects, with its file, line, raw text and reason (SPEC §1.1):
    records that could not be parsed, records that break a row rule, and records that fail a
    check against another table for this run. Records timestamped at or after the as-of are
    not seen, so not judged, except that one timestamped more than a day after it is reported
    as `timestamp_in_future` (docs/decisions/0015). -#}
{% set tracking = ['partners', 'coupons', 'leads', 'signups', 'sales', 'adjustments'] %}
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
        and (record_at is null or {{ is_visible('record_at') }}
            or quarantine_reason = 'timestamp_in_future')
),

{% endfor %}
{#- int_clicks_parsed keeps no text: fetch it from the raw record, for rejected clicks only. A
    click's reason does not depend on its other versions (checked_records), so the tens of
    millions of clicks are filtered, not versioned. -#}
rejected_clicks as (
    select
        'clicks' as source_table,
        clicks.file_path,
        clicks.line_no,
        {{ csv_line(['raw_clicks.click_id', 'raw_clicks.program_id', 'raw_clicks.partner_code',
            'raw_clicks.occurred_at', 'raw_clicks.visitor_id', 'raw_clicks.landing_url']) }} as raw_text,
        clicks.quarantine_reason as reason
    from (
        {{ checked_records('int_clicks_parsed', 'occurred_at') | indent(8) }}
    ) as clicks
    inner join {{ source('raw', 'tracking_clicks') }} as raw_clicks
        on clicks.delivery_seq = raw_clicks.delivery_seq
        and clicks.line_no = raw_clicks.line_no
    where clicks.quarantine_reason is not null
        and (clicks.record_at is null or {{ is_visible('clicks.record_at') }}
            or clicks.quarantine_reason = 'timestamp_in_future')
),

{#- Paid events, refunds and Stripe objects keep no text past their parse: the raw text of the
    few rejected ones is read back from the record they were parsed from (a Stripe line, or the
    validated Sale API row). -#}
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

{#- A Stripe object that would count (a paid invoice, a charge, a refund, a dispute) but whose
    timestamp is missing or not a number cannot be placed in time: quarantined, never dropped. -#}
rejected_stripe_timestamps as (
    {% for object_type, missing_time in [
        ('invoices', "status = 'paid' and paid_at is null"),
        ('charges', 'created_at is null'),
        ('refunds', 'created_at is null'),
        ('disputes', 'created_at is null'),
        ('customers', 'created_at is null'),
    ] %}
    {% if not loop.first %}union all{% endif %}
    select '{{ object_type }}' as source_table, delivery_seq, file_path, line_no, 'invalid_timestamp' as reason
    from {{ ref('stg_stripe__' ~ object_type) }}
    where {{ missing_time }}
    {% endfor %}
),

rejected_with_text as (
    select
        rejected.source_table,
        rejected.file_path,
        rejected.line_no,
        coalesce(stripe_lines.body, sales.raw_text) as raw_text,
        rejected.reason
    from (
        select * from rejected_money_rows
        union all
        select * from rejected_stripe_timestamps
    ) as rejected
    left join {{ source('raw', 'stripe_objects') }} as stripe_lines
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
    {% for table in tracking %}
    union all
    select * from rejected_{{ table }}
    {% endfor %}
    union all
    select * from rejected_clicks
    union all
    select * from rejected_with_text
)

select
    {{ dbt.hash("concat_ws('|', source_table, file_path, cast(line_no as " ~ dbt.type_string() ~ "), reason)") }} as quarantine_id,
    *,
    {{ as_of_date() }} as as_of
from all_rejected
