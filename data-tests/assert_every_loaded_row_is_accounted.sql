-- SPEC §1.1: nothing is lost silently: for every loaded file, rows read = rows loaded + rows
-- quarantined at load, and the raw tables hold exactly the rows loaded.
with raw_counts as (
    select
        delivery_seq,
        count(*) as raw_rows
    from {{ source('raw', 'tracking_partners') }}
    group by delivery_seq
    union all
    select
        delivery_seq,
        count(*) as raw_rows
    from {{ source('raw', 'tracking_coupons') }}
    group by delivery_seq
    union all
    select
        delivery_seq,
        count(*) as raw_rows
    from {{ source('raw', 'tracking_clicks') }}
    group by delivery_seq
    union all
    select
        delivery_seq,
        count(*) as raw_rows
    from {{ source('raw', 'tracking_leads') }}
    group by delivery_seq
    union all
    select
        delivery_seq,
        count(*) as raw_rows
    from {{ source('raw', 'tracking_signups') }}
    group by delivery_seq
    union all
    select
        delivery_seq,
        count(*) as raw_rows
    from {{ source('raw', 'tracking_sales') }}
    group by delivery_seq
    union all
    select
        delivery_seq,
        count(*) as raw_rows
    from {{ source('raw', 'tracking_adjustments') }}
    group by delivery_seq
    union all
    select
        delivery_seq,
        count(*) as raw_rows
    from {{ source('raw', 'stripe_objects') }}
    group by delivery_seq
),

reject_counts as (
    select
        delivery_seq,
        count(*) as rejected_rows
    from {{ source('raw', 'ingest_rejects') }}
    group by delivery_seq
)

select manifest.*
from {{ source('raw', 'load_manifest') }} as manifest
left join raw_counts on manifest.delivery_seq = raw_counts.delivery_seq
left join reject_counts on manifest.delivery_seq = reject_counts.delivery_seq
where manifest.source != 'stripe_api'
    and (
        manifest.rows_read != manifest.rows_loaded + manifest.rows_rejected
        or manifest.rows_loaded != coalesce(raw_counts.raw_rows, 0)
        or manifest.rows_rejected != coalesce(reject_counts.rejected_rows, 0)
    )
