{#- ISO-8601 with `Z` or an offset → UTC timestamp; anything else (no zone, a bare date,
    garbage) → null (SPEC §1.1: "a timestamp without either is invalid"). -#}
{% macro parse_utc_timestamp(column) -%}
    case
        when regexp_full_match(
            trim({{ column }}),
            '\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}(:?\d{2})?)'
        )
            then timezone('UTC', try_cast(trim({{ column }}) as timestamptz))
    end
{%- endmacro %}

{#- A whole number written as digits (optionally signed) → bigint; anything else → null. -#}
{% macro parse_integer(column) -%}
    case
        when regexp_full_match(trim({{ column }}), '[+-]?\d{1,18}')
            then cast(trim({{ column }}) as bigint)
    end
{%- endmacro %}

{#- Emails are compared trimmed and lower-cased (SPEC §2.2). -#}
{% macro normalize_email(column) -%}
    nullif(lower(regexp_replace({{ column }}, '^\s+|\s+$', '', 'g')), '')
{%- endmacro %}

{#- Empty strings count as absent. -#}
{% macro blank_to_null(column) -%}
    nullif({{ column }}, '')
{%- endmacro %}

{#- Unix seconds (Stripe) → UTC timestamp. -#}
{% macro from_unix_seconds(column) -%}
    timezone('UTC', to_timestamp(try_cast({{ column }} as bigint)))
{%- endmacro %}
