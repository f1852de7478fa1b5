{#- Manual adjustments (SPEC §1.1). The partner must be a partner of the program known to this
    run; otherwise the newest version waits in quarantine (`unknown_partner`) until a run
    knows the partner. -#}
with versions as (
    {{ validated_versions('stg_tracking__adjustments', ['adjustment_id'], 'effective_at') }}
),

partners as (
    select partner_id, program_id from {{ ref('int_partners_current') }}
),

checked as (
    select
        versions.* exclude (quarantine_reason, is_visible),
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
