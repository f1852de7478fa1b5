{#- Versions of signups (SPEC §1.1): every delivered record with its quarantine reason, and
    the newest valid version of each program and customer, visible when timestamped before the
    as-of. A record's raw text is kept only while it is rejected (the quarantine shows it): the
    text of half a million valid signups at M was 45 MB of the table's write (0.3-0.9 s a night
    with the checkpoint, measured on a scratch file).

    Scoped by key (macros/change_scope.sql, docs/decisions/0026): a record's row depends on its
    own fields, the run's as-of and clock (its reason, its visibility), the rules (in the
    fingerprint) and, for its rank, every record of its program and customer key. A night
    recomputes every record of the keys with a record delivered since the last build or
    timestamped at or after its as-of (the only records whose reason or visibility can move:
    the as-of never goes backwards in a scoped build); every other key's rows are as stored. -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key=['program_id', 'customer_key'],
    incremental_strategy='group_replace',
    post_hook="{{ record_scope_marks() }}",
) }}

{{ scope_dependencies() }}
{%- set scope = change_scope() %}
{%- set group_by = ['program_id', 'customer_key'] %}
-- scope: {{ scope.mode }} ({{ scope.why }})

with

{{ versions_in_scope(ref('stg_tracking__signups'), scope, group_by) }},

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
            partition by program_id, customer_key, quarantine_reason is null
            order by delivery_seq desc, line_no desc
        ) as version_rank
    from records_checked
),

versions as (
    select
        delivery_seq,
        file_path,
        line_no,
        case when quarantine_reason is not null then raw_text end as raw_text,
        program_id,
        customer_key,
        email_normalized,
        occurred_at_text,
        occurred_at,
        click_id,
        visitor_id,
        row_error,
        record_at,
        quarantine_reason,
        version_rank,
        quarantine_reason is null and version_rank = 1 as is_newest,
        (
            quarantine_reason is null
            and version_rank = 1
            and (record_at is null or {{ is_visible('record_at') }})
        ) as is_visible
    from ranked
)

{{ group_scope_select(scope, 'versions', 'scope_groups', group_by) }}
