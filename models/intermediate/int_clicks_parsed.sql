{#- Clicks are the largest table (tens of millions of rows): each delivered record is parsed
    and judged by the row rules once, when its delivery first appears, and kept narrow. The
    versioning and the checks that depend on the run's rules and as-of stay per run
    (int_clicks_validated); the raw text of a rejected click is fetched only for quarantine. -#}
{{ config(materialized='incremental', incremental_strategy='append') }}

select
    delivery_seq,
    file_path,
    line_no,
    click_id,
    program_id,
    partner_code,
    occurred_at,
    visitor_id,
    row_error
from {{ ref('stg_tracking__clicks') }}
{% if is_incremental() %}
where delivery_seq > (select coalesce(max(delivery_seq), 0) from {{ this }})
{% endif %}
