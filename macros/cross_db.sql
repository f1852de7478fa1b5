{#- Cross-database helpers (docs/decisions/0011). Models use dbt's own cross-database macros
    (dbt.dateadd, dbt.safe_cast, dbt.hash, dbt.generate_series, ...) and these; a DuckDB-only
    form lives only in a duckdb__ implementation, beside a portable default__ (ANSI SQL as
    PostgreSQL and Trino take it) and, where Spark differs, a spark__ one. -#}

{#- JSON has no portable SQL form: each engine names its own. A Stripe body is parsed once per
    line: `json_fields(body, paths)` is one column holding the value at every path a model reads
    (DuckDB: one `json_extract` with the list of paths, a single parse of the body instead of one
    per field, 4x faster at M); `json_str` and `json_ref` read one of those paths from it. On
    Spark, get_json_object reads a path from the text, so the column is the body itself. -#}
{% macro json_fields(body, paths) -%}
    {{ return(adapter.dispatch('json_fields', 'partner_ledger')(body, paths)) }}
{%- endmacro %}
{% macro default__json_fields(body, paths) -%}
    {{ exceptions.raise_compiler_error("json_fields: no implementation for adapter " ~ adapter.type()) }}
{%- endmacro %}
{% macro duckdb__json_fields(body, paths) -%}
    json_extract({{ body }}, [{% for path in paths %}'{{ path }}'{{ ', ' if not loop.last }}{% endfor %}])
{%- endmacro %}
{% macro spark__json_fields(body, paths) -%}
    {{ body }}
{%- endmacro %}

{#- The 1-based position of path among the paths of json_fields (a path not parsed is a
    compile error, not a silent null). -#}
{% macro json_field_position(paths, path) -%}
    {%- if path not in paths -%}
        {{ exceptions.raise_compiler_error("JSON path " ~ path ~ " is not among the parsed paths " ~ paths) }}
    {%- endif -%}
    {{ return(paths.index(path) + 1) }}
{%- endmacro %}

{#- The text at path (a JSON string's value, a number's digits, null for null or absent). -#}
{% macro json_str(fields, path, paths) -%}
    {{ return(adapter.dispatch('json_str', 'partner_ledger')(fields, path, paths)) }}
{%- endmacro %}
{% macro default__json_str(fields, path, paths) -%}
    {{ exceptions.raise_compiler_error("json_str: no implementation for adapter " ~ adapter.type()) }}
{%- endmacro %}
{% macro duckdb__json_str(fields, path, paths) -%}
    json_extract_string({{ fields }}[{{ json_field_position(paths, path) }}], '$')
{%- endmacro %}
{% macro spark__json_str(fields, path, paths) -%}
    get_json_object({{ fields }}, '{{ path }}')
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

{#- Whole calendar months from a to b (both timestamps), UTC: a bigint (Spark's extract gives
    an int, which the ledger's contract refuses). -#}
{% macro months_between(a, b) -%}
    {{ return(adapter.dispatch('months_between', 'partner_ledger')(a, b)) }}
{%- endmacro %}
{% macro default__months_between(a, b) -%}
    (12 * (extract(year from {{ b }}) - extract(year from {{ a }}))
        + (extract(month from {{ b }}) - extract(month from {{ a }})))
{%- endmacro %}
{% macro spark__months_between(a, b) -%}
    cast({{ default__months_between(a, b) }} as bigint)
{%- endmacro %}

{#- A Stripe reference that may come as an id or as the expanded object: the id either way. -#}
{% macro json_ref(fields, path, paths) -%}
    {{ return(adapter.dispatch('json_ref', 'partner_ledger')(fields, path, paths)) }}
{%- endmacro %}
{% macro default__json_ref(fields, path, paths) -%}
    {{ exceptions.raise_compiler_error("json_ref: no implementation for adapter " ~ adapter.type()) }}
{%- endmacro %}
{% macro spark__json_ref(fields, path, paths) -%}
    nullif(coalesce(
        get_json_object({{ fields }}, '{{ path }}.id'),
        case when get_json_object({{ fields }}, '{{ path }}') not like {{ "'{%'" }} then get_json_object({{ fields }}, '{{ path }}') end
    ), '')
{%- endmacro %}
{% macro duckdb__json_ref(fields, path, paths) -%}
    {%- set value = fields ~ '[' ~ json_field_position(paths, path) ~ ']' -%}
    nullif(coalesce(
        json_extract_string({{ value }}, '$.id'),
        case when json_type({{ value }}) = 'VARCHAR' then json_extract_string({{ value }}, '$') end
    ), '')
{%- endmacro %}

{#- True when the whole of text matches the regular expression (RE2 / Java syntax: \d, classes,
    bounded repeats); null when text is null. -#}
{% macro regex_full_match(text, pattern) -%}
    {{ return(adapter.dispatch('regex_full_match', 'partner_ledger')(text, pattern)) }}
{%- endmacro %}
{% macro default__regex_full_match(text, pattern) -%}
    regexp_like({{ text }}, '^(?:{{ pattern }})$')
{%- endmacro %}
{% macro duckdb__regex_full_match(text, pattern) -%}
    regexp_full_match({{ text }}, '{{ pattern }}')
{%- endmacro %}
{% macro spark__regex_full_match(text, pattern) -%}
    ({{ text }} rlike '^(?:{{ pattern | replace('\\', '\\\\') }})$')
{%- endmacro %}

{#- Text with leading and trailing whitespace of any kind (tabs, newlines) removed. -#}
{% macro trim_whitespace(text) -%}
    {{ return(adapter.dispatch('trim_whitespace', 'partner_ledger')(text)) }}
{%- endmacro %}
{% macro default__trim_whitespace(text) -%}
    regexp_replace({{ text }}, '^\s+|\s+$', '', 'g')
{%- endmacro %}
{% macro spark__trim_whitespace(text) -%}
    regexp_replace({{ text }}, '^\\s+|\\s+$', '')
{%- endmacro %}

{#- An integer type wide enough for cents × 10^12 × basis points (money.sql): DuckDB's 128-bit
    hugeint, else a 38-digit decimal. -#}
{% macro wide_integer_type() -%}
    {{ return(adapter.dispatch('wide_integer_type', 'partner_ledger')()) }}
{%- endmacro %}
{% macro default__wide_integer_type() -%}
    decimal(38, 0)
{%- endmacro %}
{% macro duckdb__wide_integer_type() -%}
    hugeint
{%- endmacro %}

{#- numerator ÷ denominator rounded toward zero, for integers (exact). -#}
{% macro integer_divide(numerator, denominator) -%}
    {{ return(adapter.dispatch('integer_divide', 'partner_ledger')(numerator, denominator)) }}
{%- endmacro %}
{% macro default__integer_divide(numerator, denominator) -%}
    (({{ numerator }}) - mod({{ numerator }}, {{ denominator }})) / ({{ denominator }})
{%- endmacro %}
{% macro duckdb__integer_divide(numerator, denominator) -%}
    (({{ numerator }}) // ({{ denominator }}))
{%- endmacro %}
{% macro spark__integer_divide(numerator, denominator) -%}
    (({{ numerator }}) div ({{ denominator }}))
{%- endmacro %}

{#- 'YYYY-MM' of a timestamp (period names, batch ids). -#}
{% macro year_month_text(ts) -%}
    {{ return(adapter.dispatch('year_month_text', 'partner_ledger')(ts)) }}
{%- endmacro %}
{% macro default__year_month_text(ts) -%}
    to_char({{ ts }}, 'YYYY-MM')
{%- endmacro %}
{% macro duckdb__year_month_text(ts) -%}
    strftime({{ ts }}, '%Y-%m')
{%- endmacro %}
{% macro spark__year_month_text(ts) -%}
    date_format({{ ts }}, 'yyyy-MM')
{%- endmacro %}

{#- A timestamp as 'YYYY-MM-DDTHH:MM:SS.ffffff', the form ledger keys are hashed from: the text
    must never change for a given instant, or every ledger key would. -#}
{% macro timestamp_key_text(ts) -%}
    {{ return(adapter.dispatch('timestamp_key_text', 'partner_ledger')(ts)) }}
{%- endmacro %}
{% macro default__timestamp_key_text(ts) -%}
    to_char({{ ts }}, 'YYYY-MM-DD"T"HH24:MI:SS.US')
{%- endmacro %}
{% macro duckdb__timestamp_key_text(ts) -%}
    strftime({{ ts }}, '%Y-%m-%dT%H:%M:%S.%f')
{%- endmacro %}
{% macro spark__timestamp_key_text(ts) -%}
    date_format({{ ts }}, "yyyy-MM-dd'T'HH:mm:ss.SSSSSS")
{%- endmacro %}

{#- The first instants of the calendar months from the month of `first` to the month of `last`
    (timestamps, UTC), one row each beside the columns of `relation`: a month spine per row,
    built on dbt.generate_series (months up to `max_months` apart). -#}
{% macro months_from_to(relation, first, last, max_months=1200) -%}
    select
        {{ relation }}.*,
        {{ dbt.dateadd('month', 'month_offsets.generated_number - 1', month_start(first)) }} as month_start
    from {{ relation }}
    inner join ({{ dbt.generate_series(max_months) }}) as month_offsets
        on month_offsets.generated_number - 1 <= {{ months_between(first, last) }}
{%- endmacro %}

{#- A correlated scalar subquery: `value` of the row of `relation` matching `condition` with
    the greatest `newest_by` (null when none matches). Spark cannot correlate a subquery that
    sorts and limits, so it takes max_by, an aggregate it can decorrelate. -#}
{% macro newest_value(value, newest_by, relation, condition) -%}
    {{ return(adapter.dispatch('newest_value', 'partner_ledger')(value, newest_by, relation, condition)) }}
{%- endmacro %}
{% macro default__newest_value(value, newest_by, relation, condition) -%}
(
    select {{ value }}
    from {{ relation }}
    where {{ condition }}
    order by {{ newest_by }} desc
    limit 1
)
{%- endmacro %}
{% macro spark__newest_value(value, newest_by, relation, condition) -%}
(
    select max_by({{ value }}, {{ newest_by }})
    from {{ relation }}
    where {{ condition }}
)
{%- endmacro %}

{#- dbt's safe_cast is a plain cast on DuckDB (dbt-duckdb has no safe_cast of its own), so a
    Stripe amount of 10^30 stopped the build; here it is DuckDB's try_cast, null when the value
    does not fit, as on the other engines (docs/decisions/0015). Found first through the
    `dispatch` search order of dbt_project.yml. -#}
{% macro duckdb__safe_cast(field, type) -%}
    try_cast({{ field }} as {{ type }})
{%- endmacro %}

{#- `a is distinct from b` (null-safe inequality), written so that every SQL parser reads it
    (sqlfluff's DuckDB dialect does not parse `is distinct from`). -#}
{% macro is_distinct(a, b) -%}
    not coalesce({{ a }} = {{ b }}, {{ a }} is null and {{ b }} is null)
{%- endmacro %}

{#- Between a CTE's `as` and its query: DuckDB materializes a CTE read more than once, which
    copies all of it; this one is inlined where it is read instead. Spark inlines CTEs anyway. -#}
{% macro not_materialized() -%}
    {{ return(adapter.dispatch('not_materialized', 'partner_ledger')()) }}
{%- endmacro %}
{% macro default__not_materialized() -%}{%- endmacro %}
{% macro duckdb__not_materialized() -%}not materialized{%- endmacro %}
