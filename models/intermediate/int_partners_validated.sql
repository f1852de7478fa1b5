{#- duplicate_partner_code (SPEC §1.1): the first partner delivered with a code owns it for
    good; a later row of another partner with that code is quarantined, so that partner keeps
    its previous row. Checked in delivery order among otherwise valid rows. -#}
{%- set record_columns = [
    'delivery_seq', 'file_path', 'line_no', 'raw_text', 'partner_id', 'program_id', 'partner_code',
    'partner_name', 'partner_email', 'partner_email_normalized', 'recruited_by', 'joined_at_text',
    'joined_at', 'status', 'status_changed_at_text', 'status_changed_at', 'payout_method',
    'payout_account', 'row_error', 'record_at',
] %}
{% set code_owner_check %}
    select
        {%- for column in record_columns %}
        checked.{{ column }},
        {%- endfor %}
        case
            when checked.quarantine_reason is null
                and first_value(checked.partner_id) over (
                    partition by checked.program_id, checked.partner_code, checked.quarantine_reason is null
                    order by checked.delivery_seq, checked.line_no
                ) != checked.partner_id
                then 'duplicate_partner_code'
            else checked.quarantine_reason
        end as quarantine_reason
    from checked
{% endset %}
with versions as (
    {{ validated_versions(
        'stg_tracking__partners', ['partner_id'], 'joined_at', extra_check=code_owner_check
    ) }}
)

select * from versions
