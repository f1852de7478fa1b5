{#- Versions of clicks for this run (SPEC §1.1), for analysts: every delivered record with its
    quarantine reason, and the newest valid version of each click_id. A view: attribution
    versions only the redelivered click ids (int_touch_candidates). -#}
{{ config(materialized='view') }}

with records as (
    select * from {{ ref('int_clicks_delivered') }}
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
            partition by click_id, quarantine_reason is null
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
)

select * from versions
