{#- The run's as-of instant D 00:00 UTC (SPEC §2.1), as a timestamp literal. -#}
{% macro as_of_date() -%}
    {%- set value = var('as_of', none) -%}
    {%- if value is none -%}{%- set value = run_started_at.strftime('%Y-%m-%d') -%}{%- endif -%}
    cast('{{ value }}' as date)
{%- endmacro %}

{% macro as_of_ts() -%}
    cast({{ as_of_date() }} as timestamp)
{%- endmacro %}

{#- True when a record's timestamp makes it visible to the run: strictly before D 00:00. -#}
{% macro is_visible(ts) -%}
    ({{ ts }} < {{ as_of_ts() }})
{%- endmacro %}
