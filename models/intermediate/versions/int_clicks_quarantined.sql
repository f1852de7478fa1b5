{#- The clicks the quarantine shows tonight (SPEC §1.1), with their reason and raw text.
    int_clicks_delivered keeps no text, and a raw record's text never changes: a night takes the
    text of each click shown the night before from this table's rows, and reads from the raw
    clicks only the clicks it starts to show (a new delivery's, or older ones that a rules
    change rejects). The raw table is in delivery order and DuckDB passes the range of the keys
    it looks for to the scan, so a night's new rejects read the last delivery's rows. Joining
    every shown click to the raw clicks read every raw click's text columns (3.3 s of L's night,
    docs/decisions/0012). A click's reason does not depend on its other versions
    (record_quarantine_reason), so the tens of millions of clicks are filtered, not versioned.

    Scoped by click record (macros/change_scope.sql, docs/decisions/0026): whether a click is
    shown, and why, depends on its own fields, the rules (in the fingerprint) and the as-of
    (visibility, the future-timestamp check), which never goes backwards in a scoped build. So
    only a click delivered since the last build or timestamped at or after its as-of can start
    or stop being shown: a night checks those (at L, 401,095 of 50 million) and keeps every
    other stored row. Checking every click each night took 2.6-3.6 s of L's night. -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key=['delivery_seq', 'line_no'],
    incremental_strategy='group_replace',
    post_hook="{{ record_scope_marks() }}",
) }}

{{ scope_dependencies() }}
{%- set scope = change_scope() %}
{%- set group_by = ['delivery_seq', 'line_no'] %}
-- scope: {{ scope.mode }} ({{ scope.why }})

with delivered_clicks as (
    {%- if scope.mode == 'changes' %}
    {{ records_since(ref('int_clicks_delivered'), ['*'], scope, ['occurred_at']) | indent(4) }}
    {%- else %}
    select * from {{ ref('int_clicks_delivered') }}
    {%- endif %}
),
{%- if scope.mode == 'changes' %}

scope_groups as (
    select delivery_seq, line_no from delivered_clicks
),
{%- endif %}

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
),

quarantined as (
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
)

{{ group_scope_select(scope, 'quarantined', 'scope_groups', group_by) }}
