{#- The clicks the quarantine shows tonight (SPEC §1.1), with their reason and raw text.
    int_clicks_delivered keeps no text, and a raw record's text never changes: a night takes the
    text of each click shown the night before from this table's rows, and reads from the raw
    clicks only the clicks it starts to show (a new delivery's, or older ones that a rules
    change rejects). The raw table is in delivery order and DuckDB passes the range of the keys
    it looks for to the scan, so a night's new rejects read the last delivery's rows. Joining
    every shown click to the raw clicks read every raw click's text columns (3.3 s of L's night,
    docs/decisions/0012). Visibility and the rules decide which clicks are shown: every row is
    replaced each night (strategy replace_all). A click's reason does not depend on its other
    versions (record_quarantine_reason), so the tens of millions of clicks are filtered, not
    versioned. -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    incremental_strategy='replace_all',
) }}

with delivered_clicks as (
    select * from {{ ref('int_clicks_delivered') }}
),

programs as (
    select program_id from {{ ref('stg_rules__programs') }}
),

checked_clicks as (
    select
        delivered_clicks.delivery_seq,
        delivered_clicks.file_path,
        delivered_clicks.line_no,
        delivered_clicks.occurred_at as record_at,
        {{ record_quarantine_reason(
            'delivered_clicks.row_error', 'delivered_clicks.occurred_at', 'programs.program_id'
        ) }} as quarantine_reason
    from delivered_clicks
    left join programs
        on delivered_clicks.program_id = programs.program_id
),

shown_clicks as (
    select
        delivery_seq,
        file_path,
        line_no,
        quarantine_reason
    from checked_clicks
    where {{ shown_in_quarantine('quarantine_reason', 'record_at') }}
),

{# the clicks whose text this table does not hold yet (all of them on a first build) #}
missing as (
    select shown_clicks.delivery_seq, shown_clicks.line_no
    from shown_clicks
    {%- if is_incremental() %}
    left join {{ this }} as stored
        on shown_clicks.delivery_seq = stored.delivery_seq
        and shown_clicks.line_no = stored.line_no
    where stored.line_no is null
    {%- endif %}
),

raw_clicks as (
    select * from {{ source('raw', 'tracking_clicks') }}
),

texts as (
    select
        missing.delivery_seq,
        missing.line_no,
        {{ csv_line(['raw_clicks.click_id', 'raw_clicks.program_id', 'raw_clicks.partner_code',
            'raw_clicks.occurred_at', 'raw_clicks.visitor_id', 'raw_clicks.landing_url']) }} as raw_text
    from missing
    inner join raw_clicks
        on missing.delivery_seq = raw_clicks.delivery_seq
        and missing.line_no = raw_clicks.line_no
    {%- if is_incremental() %}
    union all
    select delivery_seq, line_no, raw_text from {{ this }}
    {%- endif %}
)

select
    shown_clicks.delivery_seq,
    shown_clicks.file_path,
    shown_clicks.line_no,
    shown_clicks.quarantine_reason,
    texts.raw_text
from shown_clicks
inner join texts
    on shown_clicks.delivery_seq = texts.delivery_seq
    and shown_clicks.line_no = texts.line_no
