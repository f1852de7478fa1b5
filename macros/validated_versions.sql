{#- SPEC §1.1 versioning for one tracking entity, as a select over every delivered record:
    - quarantine_reason: the row-level rule it breaks, or an unknown program_id;
    - is_newest: the newest valid delivery of its key (invalid records take no part);
    - is_visible: newest and timestamped before the run's as-of (SPEC §2.1).
    A record_at of null (coupons) means always visible once delivered. -#}
{% macro validated_versions(staging_model, key_columns, record_at, extra_check=none) -%}
    with checked as (
        {{ checked_records(staging_model, record_at) | indent(8) }}
    ),

    {% if extra_check %}
    extra_checked as (
        {{ extra_check }}
    ),
    {% else %}
    extra_checked as (
        select * from checked
    ),
    {% endif %}

    ranked as (
        select
            *,
            row_number() over (
                partition by {{ key_columns | join(', ') }}, quarantine_reason is null
                order by delivery_seq desc, line_no desc
            ) as version_rank
        from extra_checked
    )

    select
        *,
        quarantine_reason is null and version_rank = 1 as is_newest,
        quarantine_reason is null and version_rank = 1
            and (record_at is null or {{ is_visible('record_at') }}) as is_visible
    from ranked
{%- endmacro %}

{#- Every delivered record of an entity with its record_at and quarantine_reason (its row error,
    else a timestamp out of bounds, else an unknown program_id): the part of SPEC §1.1 that does not depend on the other
    versions, so a reader of the rejected records needs no versioning. -#}
{% macro checked_records(staging_model, record_at) -%}
    select
        records.*,
        {{ record_at }} as record_at,
        coalesce(
            records.row_error,
            {{ timestamp_bound_reason(record_at) }},
            case when programs.program_id is null then 'unknown_program_id' end
        ) as quarantine_reason
    from {{ ref(staging_model) }} as records
    left join (select program_id from {{ ref('stg_rules__programs') }}) as programs
        on records.program_id = programs.program_id
{%- endmacro %}
