{#- Generic test: a key is never null and never repeated, in one query and one dbt node where
    `unique` and `not_null` (or `unique_combination` and a `not_null` per column) take two or
    more. A night runs every data test: at the worked example most of a test's cost is its
    node, at M the scan of the key. On a column, or on the model with `columns` for a key of
    several columns; `nullable` names the key columns that may be empty (their nulls group as
    one value, as in `unique_combination`). -#}
{% test primary_key(model, column_name=none, columns=none, nullable=none) %}
{%- set key = columns if columns else [column_name] %}
{%- set nullable = nullable or [] %}
{%- for column in nullable if column not in key %}
    {{ exceptions.raise_compiler_error("primary_key: nullable column " ~ column ~ " is not in the key " ~ key) }}
{%- endfor %}
select {{ key | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ key | join(', ') }}
having count(*) > 1
    {%- for column in key if column not in nullable %}
    or {{ column }} is null
    {%- endfor %}
{% endtest %}
