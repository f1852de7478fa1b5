{#- The first row of each group under an ascending order: a ranking's winner, one row per group.

    relation: a relation or CTE name; group_by: its grouping columns; order_by: ascending sort
    expressions over its columns that leave no ties; columns: what to return of the first row.

    The portable default numbers the rows with a window, which sorts every row. DuckDB picks
    the row with arg_min over a struct instead, a hash aggregate: on the 2.7M candidate touches
    of benchmarks/attribution.py it takes a fraction of the window's time (docs/decisions/0011). -#}
{% macro first_of_groups(relation, group_by, order_by, columns) -%}
    {{ return(adapter.dispatch('first_of_groups', 'partner_ledger')(relation, group_by, order_by, columns)) }}
{%- endmacro %}

{% macro default__first_of_groups(relation, group_by, order_by, columns) -%}
    select {{ (group_by + columns) | join(', ') }}
    from (
        select
            *,
            row_number() over (
                partition by {{ group_by | join(', ') }}
                order by {{ order_by | join(', ') }}
            ) as first_of_groups_rank
        from {{ relation }}
    ) as numbered
    where first_of_groups_rank = 1
{%- endmacro %}

{% macro duckdb__first_of_groups(relation, group_by, order_by, columns) -%}
    select
        {{ group_by | join(', ') }},
        {%- for column in columns %}
        first_row.{{ column }} as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from (
        select
            {{ group_by | join(', ') }},
            arg_min(
                struct_pack({% for column in columns %}{{ column }} := {{ column }}{{ ', ' if not loop.last }}{% endfor %}),
                struct_pack({% for expression in order_by %}k{{ loop.index }} := {{ expression }}{{ ', ' if not loop.last }}{% endfor %})
            ) as first_row
        from {{ relation }}
        group by {{ group_by | join(', ') }}
    ) as picked
{%- endmacro %}

{#- Microseconds since 1970-01-01 00:00 of a UTC timestamp: an integer that orders like it and
    can be negated to sort newest first. -#}
{% macro epoch_microseconds(ts) -%}
    {{ return(adapter.dispatch('epoch_microseconds', 'partner_ledger')(ts)) }}
{%- endmacro %}

{% macro default__epoch_microseconds(ts) -%}
    {{ dbt.datediff("cast('1970-01-01 00:00:00' as timestamp)", ts, 'microsecond') }}
{%- endmacro %}

{% macro duckdb__epoch_microseconds(ts) -%}
    epoch_us({{ ts }})
{%- endmacro %}

{% macro spark__epoch_microseconds(ts) -%}
    unix_micros({{ ts }})
{%- endmacro %}
