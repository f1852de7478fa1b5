{#- The run's as-of date D (SPEC §2.1). The flows pass it in the environment
    (PARTNER_LEDGER_AS_OF), read only when a model is executed, never while dbt parses: a new
    --vars value would make every night re-parse the whole project (~10-15 s), an environment
    variable read at execution does not. `--vars '{as_of: ...}'` still wins (unit tests, a
    hand-run build); with neither, today's date. -#}
{% macro as_of_date() -%}
    {%- set value = var('as_of', none) -%}
    {%- if value is none and execute -%}{%- set value = env_var('PARTNER_LEDGER_AS_OF', '') or none -%}{%- endif -%}
    {%- if value is none -%}{%- set value = run_started_at.strftime('%Y-%m-%d') -%}{%- endif -%}
    cast('{{ value }}' as date)
{%- endmacro %}

{#- The run's as-of instant D 00:00 UTC, as a timestamp literal. -#}
{% macro as_of_ts() -%}
    cast({{ as_of_date() }} as timestamp)
{%- endmacro %}

{#- True when a record's timestamp makes it visible to the run: strictly before D 00:00. -#}
{% macro is_visible(ts) -%}
    ({{ ts }} < {{ as_of_ts() }})
{%- endmacro %}
