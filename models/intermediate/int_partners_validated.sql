{#- duplicate_partner_code (SPEC §1.1): the first partner delivered with a code owns it for
    good; a later row of another partner with that code is quarantined, so that partner keeps
    its previous row. Checked in delivery order among otherwise valid rows. -#}
{% set code_owner_check %}
    select
        checked.*,
        case
            when checked.quarantine_reason is null
                and first_value(checked.partner_id) over (
                    partition by checked.program_id, checked.partner_code, checked.quarantine_reason is null
                    order by checked.delivery_seq, checked.line_no
                ) != checked.partner_id
                then 'duplicate_partner_code'
            else checked.quarantine_reason
        end as quarantine_reason_checked
    from checked
{% endset %}
with versions as (
    {{ validated_versions(
        'stg_tracking__partners', ['partner_id'], 'joined_at',
        extra_check='select * exclude (quarantine_reason), quarantine_reason_checked as quarantine_reason from (' ~ code_owner_check ~ ') as owner_checked'
    ) }}
)

select * from versions
