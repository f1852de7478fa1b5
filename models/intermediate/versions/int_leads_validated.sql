{#- Versions of leads (SPEC §1.1): every delivered record with its quarantine reason, and the
    newest valid version of each lead_id, visible when timestamped before the as-of.

    Scoped by lead_id as int_signups_validated is by key: a night recomputes every record of
    the lead ids with a record delivered since the last build or timestamped at or after its
    as-of. -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key=['lead_id'],
    incremental_strategy='group_replace',
    post_hook="{{ record_scope_marks() }}",
) }}

{{ scope_dependencies() }}
{%- set scope = change_scope() %}
{%- set group_by = ['lead_id'] %}
-- scope: {{ scope.mode }} ({{ scope.why }})

with

{{ versions_in_scope(ref('stg_tracking__leads'), scope, group_by) }},

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
            partition by lead_id, quarantine_reason is null
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

{{ group_scope_select(scope, 'versions', 'scope_groups', group_by) }}
