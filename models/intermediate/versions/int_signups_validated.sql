{#- Versions of signups (SPEC §1.1): every delivered record with its quarantine reason, and
    the newest valid version of each program and customer, visible when timestamped before the
    as-of. A record's raw text is kept only while it is rejected (the quarantine shows it): the
    table is rebuilt each night, and the text of half a million valid signups at M was 45 MB of
    its write (0.3-0.9 s a night with the checkpoint, measured on a scratch file). -#}
with records as (
    select * from {{ ref('stg_tracking__signups') }}
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

select * from versions
