{#- The newest delivered line of each Stripe object of one type among the lines this build has
    not seen (SPEC §1.2: a later line with the same id supersedes an earlier one; deliveries in
    arrival order, then line). On an incremental build only lines loaded since the model's
    last build are read: raw.stripe_objects is append-only and delivery_seq only grows, so each
    of them is newer than every stored version, and the model replaces the ids they carry
    (unique_key, delete+insert). A full build reads every line.

    The versions are ranked on the narrow columns alone (a delivery's line is its key within an
    object type), and only the winning lines' bodies are read back and parsed, once, into
    `fields`: the values at the paths the model reads (macros/cross_db.sql). Ranking with the
    bodies carried along sorted the whole JSON text (a gigabyte of invoices at M). -#}
{% macro stripe_new_lines(object_type, alias) -%}
    {{ alias }}.object_type = '{{ object_type }}'
    {%- if is_incremental() %}
        and {{ alias }}.delivery_seq > (select coalesce(max(delivery_seq), 0) from {{ this }})
    {%- endif %}
{%- endmacro %}

{% macro stripe_latest(object_type, paths) -%}
    select
        lines.delivery_seq,
        lines.file_path,
        lines.line_no,
        lines.object_id,
        {{ json_fields('lines.body', paths) }} as fields
    from {{ source('raw', 'stripe_objects') }} as lines
    inner join (
        select
            delivery_seq,
            line_no,
            row_number() over (
                partition by object_id order by delivery_seq desc, line_no desc
            ) as version_rank
        from {{ source('raw', 'stripe_objects') }} as ranked
        where {{ stripe_new_lines(object_type, 'ranked') }}
    ) as versions
        on lines.delivery_seq = versions.delivery_seq
        and lines.line_no = versions.line_no
        and versions.version_rank = 1
    where {{ stripe_new_lines(object_type, 'lines') }}
{%- endmacro %}
