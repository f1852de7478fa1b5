{#- The latest delivered version of each Stripe object of one type (SPEC §1.2: a later line
    with the same id supersedes an earlier one; deliveries in arrival order, then line). -#}
{% macro stripe_latest(object_type) -%}
    select *
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
    ) as versions
    where version_rank = 1
{%- endmacro %}
