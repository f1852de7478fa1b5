{#- The view and table materializations on DuckDB, in one statement each (docs/decisions/0012,
    session 21). dbt's build a relation under a temporary name, rename the old one aside, rename
    the new one into place and drop the old one: four statements, and each rename or drop a
    macro called from Python that builds a whole macro context. The worked example's nights
    rebuild 34 views and tables that way; their renames and drops were about a tenth of dbt's
    CPU (a night's build: 12.6 → 10.9 CPU-s). DuckDB's DDL is transactional: the old relation is
    dropped and the new one created in the model's transaction, so a failed statement leaves
    the old one in place, as the renames did. A night also runs on its own working copy, which
    nothing reads until it commits (docs/decisions/0027).

    Hooks, contracts (create_view_as and create_table_as check and declare them) and the
    relation cache behave as in dbt's. Grants, persisted docs, indexes, partitions and sort
    orders are not applied: no model asks for them, and tests/test_dbt_docs.py fails one that
    does. Spark keeps dbt-spark's materializations. -#}
{% materialization view, adapter='duckdb' -%}
    {{ return(materialize_in_one_statement('view', sql)) }}
{%- endmaterialization %}

{% materialization table, adapter='duckdb' -%}
    {{ return(materialize_in_one_statement('table', sql)) }}
{%- endmaterialization %}

{#- The body of both: the model's hooks around one statement that drops its existing relation
    (a view or a table, whichever it is now) and creates the new one; dbt's cache forgets the
    old relation and adds the new one (the relations returned). -#}
{% macro materialize_in_one_statement(kind, sql) -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type=kind) -%}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {% call statement('main') -%}
        {%- if existing_relation is not none %}
        {%- do adapter.cache_dropped(existing_relation) %}
        drop {{ existing_relation.type }} {{ existing_relation }};
        {%- endif %}
        {%- if kind == 'view' %}
        {{ create_view_as(target_relation, sql) }}
        {%- else %}
        {{ create_table_as(False, target_relation, sql) }}
        {%- endif %}
    {%- endcall %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target_relation]}) }}
{%- endmacro %}
