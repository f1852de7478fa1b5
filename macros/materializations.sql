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

{#- Incremental models on DuckDB: dbt-duckdb's materialization, except an append-only store's
    night (strategy `append`, its table built): dbt-duckdb's writes the night's rows to a
    temporary table, reads the table's columns back and copies the rows from the temporary
    table into the store. An append needs none of that: the rows go into the store in one
    insert, by name (a column the store lacks is an error: new code rebuilds in full, decision
    0026). At L a closing night appends 1.36 million statement lines: 7.8-7.9 s through a
    temporary table, 4.3-4.5 s in one insert (docs/decisions/0012, session 33). -#}
{% materialization incremental, adapter='duckdb' -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- if config.get('incremental_strategy') == 'append' and existing_relation is not none
        and existing_relation.is_table and not should_full_refresh() -%}
        {{ return(append_in_place(existing_relation, sql)) }}
    {%- endif -%}
    {{ return(dbt.materialization_incremental_duckdb()) }}
{%- endmaterialization %}

{#- The body of an append: the model's hooks around one insert of its rows into `target`. With a
    `written_key` config, the keys of the appended rows are recorded (record_written_keys, as
    the append strategy records those of its temporary table): the rows whose row id is past
    the store's last before the insert (rows are appended at a table's end; rows of the
    running transaction have row ids above every stored row's). -#}
{% macro append_in_place(target, sql) -%}
    {%- set key = config.get('written_key') -%}
    {%- set first_row = this.identifier ~ '__first_appended_row' -%}
    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {% call statement('main') -%}
        {%- if key %}
        create or replace temporary table {{ first_row }} as
        select coalesce(max(rowid) + 1, 0) as first_row from {{ target }};
        {%- endif %}
        insert into {{ target }} by name
        select * from (
            {{ sql | indent(12) }}
        ) as appended
        {%- if key %};
        {{ record_written_keys(
            '(select ' ~ key ~ ' from ' ~ target ~ ' where rowid >= (select first_row from ' ~ first_row ~ ')) as appended',
            key,
            adapter.get_columns_in_relation(target),
        ) }};
        drop table {{ first_row }}
        {%- endif %}
    {%- endcall %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
    {{ return({'relations': [target]}) }}
{%- endmacro %}
