{#- The newest delivered line of each Stripe object of one type among the lines this build has
    not seen (SPEC §1.2: a later line with the same id supersedes an earlier one; deliveries in
    arrival order, then line). On an incremental build only lines loaded since the model's
    last build are read: raw.stripe_objects is append-only and delivery_seq only grows, so each
    of them is newer than every stored version, and the model replaces the ids they carry
    (unique_key, delete+insert). A full build reads every line. -#}
{% macro stripe_latest(object_type) -%}
    select delivery_seq, file_path, line_no, object_id, body
    from (
        select
            delivery_seq,
            file_path,
            line_no,
            object_id,
            body,
            row_number() over (
                partition by object_id order by delivery_seq desc, line_no desc
            ) as version_rank
        from {{ source('raw', 'stripe_objects') }}
        where object_type = '{{ object_type }}'
        {% if is_incremental() %}
            and delivery_seq > (select coalesce(max(delivery_seq), 0) from {{ this }})
        {% endif %}
    ) as versions
    where version_rank = 1
{%- endmacro %}
