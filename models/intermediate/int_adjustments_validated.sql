{#- Manual adjustments (SPEC §1.1). The partner must be a partner of the program known to this
    run; otherwise the newest version waits in quarantine (`unknown_partner`) until a run
    knows the partner. -#}
{%- set version_columns = [
    'delivery_seq', 'file_path', 'line_no', 'raw_text', 'adjustment_id', 'program_id', 'partner_id',
    'amount_cents_text', 'amount_cents', 'effective_at_text', 'effective_at', 'adjustment_reason',
    'row_error', 'record_at', 'version_rank', 'is_newest',
] %}

with versions as (
    {{ validated_versions('stg_tracking__adjustments', ['adjustment_id'], 'effective_at') }}
),

partners as (
    select partner_id, program_id from {{ ref('int_partners_current') }}
),

checked as (
    select
        {%- for column in version_columns %}
        versions.{{ column }},
        {%- endfor %}
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
