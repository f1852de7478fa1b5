{#- SPEC §1.1, the part of a delivered record's verdict that does not depend on its other
    versions: its row error, else its timestamp out of bounds (docs/decisions/0015), else an
    unknown program_id (known_program_id is the program looked up in the rules, null when
    absent). Null: the record is valid. Each int_<entity>_validated model then ranks the valid
    versions of a key: the newest delivery (then line) is the version in force. -#}
{% macro record_quarantine_reason(row_error, record_at, known_program_id) -%}
    coalesce(
        {{ row_error }},
        {{ timestamp_bound_reason(record_at) }},
        case when {{ known_program_id }} is null then 'unknown_program_id' end
    )
{%- endmacro %}

{#- Which rejected versions of a tracking record the quarantine lists: those with a reason whose
    record is timestamped before the as-of (or has no usable timestamp), and those rejected for a
    timestamp in the future, so that nothing rejected is hidden. One rule for every tracking
    table of quarantine.sql. -#}
{% macro shown_in_quarantine(reason, record_at) -%}
    {{ reason }} is not null
    and (
        {{ record_at }} is null
        or {{ is_visible(record_at) }}
        or {{ reason }} = 'timestamp_in_future'
    )
{%- endmacro %}
