{#- duplicate_partner_code (SPEC §1.1): the first partner delivered with a code owns it for
    good; a later row of another partner with that code is quarantined, so that partner keeps
    its previous row. Checked in delivery order among otherwise valid rows. -#}
with records as (
    select * from {{ ref('stg_tracking__partners') }}
),

programs as (
    select program_id from {{ ref('stg_rules__programs') }}
),

records_checked as (
    select
        records.*,
        records.joined_at as record_at,
        {{ record_quarantine_reason('records.row_error', 'records.joined_at', 'programs.program_id') }}
            as quarantine_reason
    from records
    left join programs
        on records.program_id = programs.program_id
),

{# duplicate_partner_code: among valid rows, in delivery order, the first partner of a code
    owns it #}
code_checked as (
    select
        records_checked.delivery_seq,
        records_checked.file_path,
        records_checked.line_no,
        records_checked.raw_text,
        records_checked.partner_id,
        records_checked.program_id,
        records_checked.partner_code,
        records_checked.partner_name,
        records_checked.partner_email,
        records_checked.partner_email_normalized,
        records_checked.recruited_by,
        records_checked.joined_at_text,
        records_checked.joined_at,
        records_checked.status,
        records_checked.status_changed_at_text,
        records_checked.status_changed_at,
        records_checked.payout_method,
        records_checked.payout_account,
        records_checked.row_error,
        records_checked.record_at,
        case
            when records_checked.quarantine_reason is null
                and first_value(records_checked.partner_id) over (
                    partition by
                        records_checked.program_id,
                        records_checked.partner_code,
                        records_checked.quarantine_reason is null
                    order by records_checked.delivery_seq, records_checked.line_no
                ) != records_checked.partner_id
                then 'duplicate_partner_code'
            else records_checked.quarantine_reason
        end as quarantine_reason
    from records_checked
),

{# the newest valid delivery of a key, then its last line, is the version in force #}
ranked as (
    select
        *,
        row_number() over (
            partition by partner_id, quarantine_reason is null
            order by delivery_seq desc, line_no desc
        ) as version_rank
    from code_checked
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
