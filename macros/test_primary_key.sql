{#- Generic test: a key is never null and never repeated, in one query and one dbt node where
    `unique` and `not_null` (or `unique_combination` and a `not_null` per column) take two or
    more. A night runs every data test: at the worked example most of a test's cost is its
    node, at M the scan of the key. On a column, or on the model with `columns` for a key of
    several columns; `nullable` names the key columns that may be empty (their nulls group as
    one value, as in `unique_combination`).

    `after` (a `ref`, read by dbt only): a model the test also runs after. In `dbt build` a node
    waits for every test whose parents are all among its ancestors, so a test of a model on the
    night's chain holds up the models after it. Naming a model that no model reads and that is
    not built from the tested one, the test holds up nothing: it runs once both are built. (A
    model at the chain's end would do the same, but the test would then end the chain.) It
    still runs every night, and a failure still fails the night before its commit
    (flows/nightly.py): what waits is the finding, never the guarantee. -#}
{% test primary_key(model, column_name=none, columns=none, nullable=none, after=none) %}
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
