{#- Small dispatched helpers so the models stay portable (DuckDB default, Spark beside it). -#}

{% macro json_str(body, path) -%}
    {{ return(adapter.dispatch('json_str', 'partner_ledger')(body, path)) }}
{%- endmacro %}
{% macro default__json_str(body, path) -%}
    json_extract_string({{ body }}, '{{ path }}')
{%- endmacro %}
{% macro spark__json_str(body, path) -%}
    get_json_object({{ body }}, '{{ path }}')
{%- endmacro %}

{#- The CSV text of a parsed record, for quarantine rows of records that parsed but broke a rule. -#}
{% macro csv_line(columns) -%}
    concat_ws(','
    {%- for column in columns %},
        case
            when {{ column }} is null then ''
            when {{ column }} like '%,%' or {{ column }} like '%"%' or {{ column }} like '%' || chr(10) || '%'
                then '"' || replace({{ column }}, '"', '""') || '"'
            else {{ column }}
        end
    {%- endfor %})
{%- endmacro %}

{#- First instant of the calendar month holding ts (UTC). -#}
{% macro month_start(ts) -%}
    cast({{ dbt.date_trunc('month', ts) }} as timestamp)
{%- endmacro %}

{#- Whole calendar months from a to b (both timestamps), UTC. -#}
{% macro months_between(a, b) -%}
    (12 * (extract(year from {{ b }}) - extract(year from {{ a }}))
        + (extract(month from {{ b }}) - extract(month from {{ a }})))
{%- endmacro %}

{#- A Stripe reference that may come as an id or as the expanded object: the id either way. -#}
{% macro json_ref(body, path) -%}
    {{ return(adapter.dispatch('json_ref', 'partner_ledger')(body, path)) }}
{%- endmacro %}
{% macro default__json_ref(body, path) -%}
    nullif(coalesce(
        json_extract_string({{ body }}, '{{ path }}.id'),
        case when json_type({{ body }}, '{{ path }}') = 'VARCHAR'
            then json_extract_string({{ body }}, '{{ path }}') end
    ), '')
{%- endmacro %}
