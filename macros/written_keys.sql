{#- The keys a build wrote, and data tests that check those rows only (issue 11,
    docs/decisions/0029).

    A scoped model (strategy `scope_replace`, macros/change_scope.sql) replaces the rows of the
    keys its inputs touched and keeps every other stored row as the previous build wrote it; a
    `delete+insert` model with a `written_key` config does the same for the keys of tonight's
    lines; an append-only store with a `written_key` config only adds rows. Such a build records the keys
    it deleted or inserted (`intermediate.written_keys`) and, in `intermediate.written_key_builds`,
    the dbt invocation that wrote them and the key's column. A generic data test of the model
    run by the same invocation then reads the rows of those keys only (get_where_subquery): a
    row that no build since the last tested one wrote is the row that build's tests passed.
    A test whose columns are a key (primary_key, unique_combination, unique) must contain the
    written key's column, so that two rows sharing a tested key share the written key: if one
    was written tonight, both are read.

    A full build, a first build, `--full-refresh`, and any test run by another invocation (a
    `dbt test` by hand) read every row. Only DuckDB builds record keys: on Spark the scoped
    models are plain tables and every test reads every row.

    A model downstream may read its parent's keys in place of finding its scope again
    (wrote_since_my_last_build: the parent's build recorded `built_from`, the marks it started
    from, and they must be the model's own). -#}

{#- The two tables, in the intermediate schema (generate_schema_name uses it as named). Called
    through adapter.dispatch (`written_keys_relations()` below) and built from context members
    only: a generic test's compilation sees only the macros its node depends on, and
    duckdb__get_where_subquery runs there. -#}
{% macro written_keys_relations() -%}
    {{ return(adapter.dispatch('written_keys_relations', 'partner_ledger')()) }}
{%- endmacro %}

{% macro default__written_keys_relations() -%}
    {{ return({
        'builds': api.Relation.create(
            database=target.database, schema='intermediate', identifier='written_key_builds', type='table'
        ),
        'written': api.Relation.create(
            database=target.database, schema='intermediate', identifier='written_keys', type='table'
        ),
    }) }}
{%- endmacro %}

{#- SQL: both tables, empty (on-run-start, beside the scope marks). Only this invocation's rows
    are ever read (the tests and wrote_since_my_last_build ask for its id), so each invocation
    starts them anew instead of deleting the last one's rows: deleted rows stay stored until a
    checkpoint compacts them, and the night after a closing night deleted enough keys (229,000
    at M) to make its commit compact every table the night wrote (5.2 s of M's commit, 5.7 s
    of L's, partner_ledger.io.warehouse.checkpoint). A table replaced whole leaves no deleted
    rows: the checkpoint frees its blocks. -#}
{% macro written_keys_ddl() -%}
    {%- set relations = written_keys_relations() -%}
    create or replace table {{ relations.builds }} (
        model_name varchar primary key,
        built_by varchar not null,
        key_column varchar not null,
        key_type varchar not null,
        built_from varchar
    );
    create or replace table {{ relations.written }} (
        model_name varchar not null,
        key_value varchar
    )
{%- endmacro %}

{#- SQL, in the model's transaction: this build wrote the rows of the distinct `key` values of
    `source` (the model's temporary table, after the strategy has dropped what it does not
    write). `columns`: the table's columns (the key's type is read from them). -#}
{% macro record_written_keys(source, key, columns) -%}
    {%- set relations = written_keys_relations() -%}
    {%- set key_type = (columns | selectattr('name', 'equalto', key) | map(attribute='dtype') | first) or 'varchar' -%}
    {%- set marks = scope_marks_relation() %}
    {{ forget_written_keys() }};
    insert into {{ relations.builds }}
    select
        '{{ this.identifier }}', '{{ invocation_id }}', '{{ key }}', '{{ key_type }}',
        (select {{ marks_text('marks') }} from {{ marks }} as marks where marks.model_name = '{{ this.identifier }}');
    insert into {{ relations.written }}
    select distinct '{{ this.identifier }}', cast({{ key }} as varchar) from {{ source }}
{%- endmacro %}

{#- SQL: a scoped model's marks as one text (the scope a build started from). -#}
{% macro marks_text(marks) -%}
    cast({{ marks }}.built_as_of as varchar) || '/' || {{ marks }}.through_seq || '/' || {{ marks }}.fingerprint
{%- endmacro %}

{#- True when `producer`, a scoped model this one reads, recorded in this invocation the keys it
    wrote, and its build started from the marks this model was last built with (both were built
    by the same earlier invocation): the recorded keys are then every key whose row of
    `producer` changed since this model's last build. False otherwise (the caller then reads
    all of `producer`). Called while the model's own marks are still the last build's. -#}
{% macro wrote_since_my_last_build(producer) -%}
    {%- if not execute or target.type != 'duckdb' -%}{{ return(false) }}{%- endif -%}
    {%- set found = run_query(
        "select count(*) from " ~ written_keys_relations().builds ~ " as builds, "
        ~ scope_marks_relation() ~ " as marks"
        ~ " where builds.model_name = '" ~ producer ~ "' and builds.built_by = '" ~ invocation_id ~ "'"
        ~ " and marks.model_name = '" ~ this.identifier ~ "'"
        ~ " and builds.built_from = " ~ marks_text('marks')
    ) -%}
    {{ return(found.columns[0].values()[0] == 1) }}
{%- endmacro %}

{#- SQL: the keys `producer` recorded (after wrote_since_my_last_build), as text. -#}
{% macro written_key_values(producer) -%}
    select key_value from {{ written_keys_relations().written }} where model_name = '{{ producer }}'
{%- endmacro %}

{#- SQL: the row ids of the rows of `relation` (a DuckDB table) whose `key` is among `keys`
    (SQL of one column), for a filter `rowid in (...)`. A night reads whole rows of a table for
    a few keys: the rows its producer wrote tonight, or the rows a run appended. DuckDB reads
    every column of every row group before a join on the key drops them (6 million wide rows
    at L for 18,000 keys); a row id filter skips the row groups outside the row ids' range,
    found on the key column alone. Rows written tonight were appended at the table's end, so
    their range is the table's tail (docs/decisions/0012, session 29). On any other layout the
    filter is the same set of rows, only read as before. -#}
{% macro row_ids_with_keys(relation, key, keys) -%}
    select keyed.rowid from {{ relation }} as keyed where keyed.{{ key }} in ({{ keys }})
{%- endmacro %}

{#- SQL: the model's keys are not recorded (a full build: its tests read every row). -#}
{% macro forget_written_keys() -%}
    {%- set relations = written_keys_relations() -%}
    delete from {{ relations.builds }} where model_name = '{{ this.identifier }}';
    delete from {{ relations.written }}
    where model_name in ('{{ this.identifier }}', '{{ this.identifier }}{{ written_groups_suffix() }}')
{%- endmacro %}

{#- The name the groups of a model's written rows are recorded under (record_written_groups):
    the model's name and this suffix. -#}
{% macro written_groups_suffix() -%}.groups{%- endmacro %}

{#- SQL, in a scope_replace build after record_written_keys and before the stored rows are
    replaced: the groups (`group_by`, a list of columns, as group_text writes them) of the rows
    this build deletes or inserts, under the stored rows and the new ones. A row keyed by event
    can move from one customer to another; a model keyed by customer downstream needs both.
    Read with written_key_values(model ~ written_groups_suffix()). -#}
{% macro record_written_groups(target, source, key, group_by) -%}
    {%- set relations = written_keys_relations() %}
    insert into {{ relations.written }}
    select distinct '{{ this.identifier }}{{ written_groups_suffix() }}', {{ group_text(group_by) }}
    from (
        select {{ group_by | join(', ') }} from {{ target }}
        where {{ key }} in (select {{ key }} from {{ source }} where scope_only)
        union all
        select {{ group_by | join(', ') }} from {{ source }} where not scope_only
    ) as written_rows
{%- endmacro %}

{#- SQL: a group of columns as one text (`relation`: their relation's name, if any), each
    column empty when null and the columns joined by '|': a customer's (program_id,
    customer_key) is `program|key`, as dim_customers' customer_id. Two groups can share a text
    (a null key and an empty one, a '|' inside a column); a model scoped by such a text then
    recomputes both, which is never wrong. -#}
{% macro group_text(group_by, relation=none) -%}
    {%- for column in group_by -%}
    coalesce({{ relation ~ '.' if relation }}{{ column }}, '')
    {{- " || '|' || " if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{#- SQL after a strategy's, for a model with `written_key` config: the keys of its temporary
    table (nothing otherwise). -#}
{% macro record_strategy_keys(arg_dict) -%}
    {%- if config.get('written_key') %};
    {{ record_written_keys(arg_dict['temp_relation'], config.get('written_key'), arg_dict['dest_columns']) }}
    {%- endif %}
{%- endmacro %}

{#- The append strategy on DuckDB: dbt's, and for a model with `written_key` config the keys of
    the rows it appends. -#}
{% macro duckdb__get_incremental_append_sql(arg_dict) -%}
    {{ dbt.default__get_incremental_append_sql(arg_dict) }}{{ record_strategy_keys(arg_dict) }}
{%- endmacro %}

{#- The delete+insert strategy on DuckDB: dbt-duckdb's, and for a model with `written_key` config
    the keys of its temporary table, every key whose stored rows it deletes and inserts again
    (the Stripe staging tables, the tier store). -#}
{% macro duckdb__get_incremental_delete_insert_sql(arg_dict) -%}
    {{ dbt.default__get_incremental_delete_insert_sql(arg_dict) }}{{ record_strategy_keys(arg_dict) }}
{%- endmacro %}

{#- The relation a generic data test reads (dbt calls this for every generic test's model):
    when `relation` is a model whose keys this dbt invocation recorded, the rows of those keys
    (and rows with no key); every row otherwise. Within dbt's own (the test's `where`). It runs in
    the test's compilation, which sees only the macros the test node depends on: it calls
    other macros through adapter.dispatch only. -#}
{% macro duckdb__get_where_subquery(relation) -%}
    {%- set base = dbt.default__get_where_subquery(relation) -%}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.' ~ relation.identifier) if execute else none -%}
    {%- set producer = relation.identifier -%}
    {%- if node is not none and node.config.get('materialized') == 'view' and node.config.get('written_key_of') -%}
        {#- a view with one row per row of its producer (`written_key_of`, an append-only store
            with `written_key`): the rows of the keys the producer wrote. Its key columns are
            the producer's, which never change; its other rows are those earlier nights
            checked. New code (a full refresh, docs/decisions/0026) reads every row: the view's
            SQL may be new. -#}
        {%- if flags.FULL_REFRESH -%}{{ return(base) }}{%- endif -%}
        {%- set producer = node.config.get('written_key_of') -%}
    {%- elif node is none
        or (node.config.get('incremental_strategy') != 'scope_replace' and not node.config.get('written_key')) -%}
        {{ return(base) }}
    {%- endif -%}
    {%- set tables = adapter.dispatch('written_keys_relations', 'partner_ledger')() -%}
    {#- a warehouse whose builds never recorded keys (older code; a compile) has no table. dbt's
        relation cache answers, without a query: it was filled before the on-run-start hook,
        so a table that hook created tonight is not in it, and that night's builds were full
        (a first build, or new code: docs/decisions/0029) and recorded no keys. -#}
    {%- if adapter.get_relation(
        database=tables.builds.database, schema=tables.builds.schema, identifier=tables.builds.identifier
    ) is none -%}
        {{ return(base) }}
    {%- endif -%}
    {%- set found = adapter.execute(
        "select key_column, key_type from " ~ tables.builds
        ~ " where model_name = '" ~ producer ~ "' and built_by = '" ~ invocation_id ~ "'",
        fetch=true,
    )[1] -%}
    {%- if found.rows | length != 1 -%}
        {{ return(base) }}
    {%- endif -%}
    {%- set key, key_type = found.rows[0] -%}
    {%- set test = model.test_metadata or {} -%}
    {%- set kwargs = test.get('kwargs', {}) -%}
    {%- set tested = kwargs.get('columns') or kwargs.get('combination_of_columns') or [kwargs.get('column_name')] -%}
    {%- if test.get('name') in ['primary_key', 'unique_combination', 'unique'] and key not in tested -%}
        {{ exceptions.raise_compiler_error(
            test.get('name') ~ " on " ~ relation.identifier ~ ": the key " ~ tested
            ~ " does not contain the written key " ~ key
            ~ " (macros/written_keys.sql): the test would not read an older row sharing a new row's key"
        ) }}
    {%- endif -%}
    {%- set filtered -%}
    (
        select * from {{ base }}
        where {{ key }} in (
            select cast(key_value as {{ key_type }})
            from {{ tables.written }}
            where model_name = '{{ producer }}'
        )
            or {{ key }} is null
    ) as written_rows
    {%- endset -%}
    {{ return(filtered) }}
{%- endmacro %}
