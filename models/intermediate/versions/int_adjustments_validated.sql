{#- Manual adjustments (SPEC §1.1). The partner must be a partner of the program known to this
    run; otherwise the newest version waits in quarantine (`unknown_partner`) until a run
    knows the partner. -#}

with records as (
    select * from {{ ref('stg_tracking__adjustments') }}
),

programs as (
    select program_id from {{ ref('stg_rules__programs') }}
),

records_checked as (
    select
        records.*,
        records.effective_at as record_at,
        {{ record_quarantine_reason('records.row_error', 'records.effective_at', 'programs.program_id') }}
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
            partition by adjustment_id, quarantine_reason is null
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
),

partners as (
    select partner_id, program_id from {{ ref('int_partners_current') }}
),

checked as (
    select
        versions.delivery_seq,
        versions.file_path,
        versions.line_no,
        versions.raw_text,
        versions.adjustment_id,
        versions.program_id,
        versions.partner_id,
        versions.amount_cents_text,
        versions.amount_cents,
        versions.effective_at_text,
        versions.effective_at,
        versions.adjustment_reason,
        versions.row_error,
        versions.record_at,
        versions.version_rank,
        versions.is_newest,
        case
            when versions.is_visible and partners.partner_id is null then 'unknown_partner'
            else versions.quarantine_reason
        end as quarantine_reason,
        versions.is_visible and partners.partner_id is not null as is_visible
    from versions
    left join partners
        on versions.partner_id = partners.partner_id
        and versions.program_id = partners.program_id
)

select * from checked
