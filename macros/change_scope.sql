{#- A night that costs what changed (issue 11, docs/decisions/0026).

    A scoped model keeps the previous build's rows and recomputes only the keys whose rows may
    differ: the keys its inputs touched since its last build. What the last build saw is kept in
    `intermediate.scope_marks` (one row per scoped model, written by the model's post-hook in
    the build's transaction):

    - built_as_of: the build's as-of. A record whose timestamp is at or after it may have become
      visible (or valid: the future-timestamp check moves with the as-of) since;
    - through_seq: the last delivery loaded when it was built. Every raw row loaded later has a
      larger delivery_seq (raw tables are append-only, deliveries are numbered in load order);
    - fingerprint: the project's code (models, macros, dbt_project.yml, dbt and DuckDB
      versions, passed by partner_ledger/settle/dbt.py) and the content of every rules table.

    A model is built in full when it has no marks, when the fingerprint differs (new rules or
    new code), when the as-of goes backwards (a replay: records can become invisible), on the
    first build, and when dbt runs without the code fingerprint (a hand-run build). `--empty`
    builds (a rebuild's start) delete the model's marks, so the next build is full.

    Only DuckDB builds scope; on Spark these models are plain tables. -#}

{#- One table of marks for every scoped model, in the intermediate schema (a scoped mart's
    marks stay out of the schema finance reads). -#}
{% macro scope_marks_relation() -%}
    {{ return(api.Relation.create(
        database=target.database,
        schema=generate_schema_name('intermediate', none),
        identifier='scope_marks',
        type='table',
    )) }}
{%- endmacro %}

{% macro scope_rules_models() -%}
    {{ return([
        'stg_rules__programs', 'stg_rules__fx_rates', 'stg_rules__attribution_sources',
        'stg_rules__tiers', 'stg_rules__phases', 'stg_rules__rates',
    ]) }}
{%- endmacro %}

{#- At the top of every scoped model: what its scope reads only when it executes, declared
    for dbt's graph (a ref inside a condition is not seen at parse time). -#}
{% macro scope_dependencies(extra_models=[]) -%}
    {#- a dbt unit test runs the model's full build on its given inputs only -#}
    {%- if model.resource_type != 'unit_test' %}
        {%- for name in scope_rules_models() + extra_models %}
-- depends_on: {{ ref(name) }}
        {%- endfor %}
-- depends_on: {{ source('raw', 'load_manifest') }}
-- depends_on: {{ source('raw', 'stripe_objects') }}
    {%- endif %}
{%- endmacro %}

{#- What paid_events_scope reads besides the model's own rows (for scope_dependencies). -#}
{% macro paid_events_scope_inputs() -%}
    {{ return([
        'stg_stripe__charges', 'stg_stripe__customers', 'stg_stripe__invoices',
        'int_stripe_charges_linked', 'int_signups_validated', 'int_sales_validated',
    ]) }}
{%- endmacro %}

{#- SQL: one hash of every rules table's rows (tiny tables; DuckDB casts a row to text). -#}
{% macro scope_rules_hash_sql() -%}
    select md5(coalesce(string_agg(row_text, chr(10) order by row_text), '')) as rules_hash
    from (
        {%- for model in scope_rules_models() %}
        select '{{ model }}:' || cast(rules_row as varchar) as row_text
        from {{ ref(model) }} as rules_row
        {{- ' union all' if not loop.last }}
        {%- endfor %}
    ) as rules_rows
{%- endmacro %}

{#- SQL: this build's fingerprint, the code's (from the environment) and the rules', as text;
    none when the code fingerprint is missing. Computed inside the statements that compare or
    record it (change_scope, record_scope_marks), not by a query of its own: a night's scoped
    models made 36 such queries, each one of dbt's round trips (docs/decisions/0012, session 32). -#}
{% macro scope_fingerprint_sql() -%}
    {%- set code = env_var('PARTNER_LEDGER_CODE_FINGERPRINT', '') -%}
    {%- if not code -%}{{ return(none) }}{%- endif -%}
    {{ return("'" ~ code ~ ":' || (select rules_hash from (" ~ scope_rules_hash_sql() ~ ") as rules)") }}
{%- endmacro %}

{#- The model's scope for this build, decided when the model executes:
    {'mode': 'full'} or {'mode': 'changes', 'prev_seq': N, 'prev_as_of_ts': 'timestamp SQL'},
    with 'why' (each scoped model writes both in a comment of its compiled SQL). A full build
    says whether a stored table's keys are all replaced (`replaces_stored`): not on a first
    build, and not in a dbt unit test, where the model has no relation of its own. -#}
{% macro change_scope() -%}
    {%- if not execute -%}{{ return({'mode': 'full', 'why': 'parsing', 'replaces_stored': false}) }}{%- endif -%}
    {%- if model.resource_type == 'unit_test' -%}
        {{ return({'mode': 'full', 'why': 'unit test', 'replaces_stored': false}) }}
    {%- endif -%}
    {%- set stored = is_incremental() -%}
    {%- if target.type != 'duckdb' or not stored -%}
        {{ return({'mode': 'full', 'why': 'first build', 'replaces_stored': stored}) }}
    {%- endif -%}
    {%- set marks = scope_marks_relation() -%}
    {%- if adapter.get_relation(marks.database, marks.schema, marks.identifier) is none -%}
        {{ return({'mode': 'full', 'why': 'no marks', 'replaces_stored': true}) }}
    {%- endif -%}
    {%- set current_sql = scope_fingerprint_sql() -%}
    {#- the marks, this build's fingerprint and its as-of, in one query -#}
    {%- set previous = run_query(
        "select cast(built_as_of as varchar), through_seq, fingerprint, "
        ~ (current_sql if current_sql is not none else 'null') ~ ", cast(" ~ as_of_date() ~ " as varchar)"
        ~ " from " ~ marks ~ " where model_name = '" ~ this.identifier ~ "'"
    ) -%}
    {%- if previous.rows | length != 1 -%}
        {{ return({'mode': 'full', 'why': 'no marks', 'replaces_stored': true}) }}
    {%- endif -%}
    {%- set built_as_of, through_seq, fingerprint, current, as_of = previous.rows[0] -%}
    {%- if current is none or current != fingerprint -%}
        {{ return({'mode': 'full', 'why': 'code or rules changed', 'replaces_stored': true}) }}
    {%- endif -%}
    {%- if as_of < built_as_of -%}
        {{ return({'mode': 'full', 'why': 'as-of went backwards', 'replaces_stored': true}) }}
    {%- endif -%}
    {{ return({
        'mode': 'changes',
        'why': 'deliveries after ' ~ through_seq ~ ', records from ' ~ built_as_of,
        'prev_seq': through_seq | int,
        'prev_as_of_ts': "cast(cast('" ~ built_as_of ~ "' as date) as timestamp)",
        'same_as_of': as_of == built_as_of,
    }) }}
{%- endmacro %}

{#- The scope of a model that finds its changes in the keys `producer` recorded (macros/
    written_keys.sql): `scope` when the producer recorded, in this invocation, every key it
    changed since this model's last build (wrote_since_my_last_build); otherwise a full build,
    replacing every stored row (the producer was built in full, or by another invocation). -#}
{% macro scope_reading_keys_of(scope, producer) -%}
    {%- if scope.mode == 'changes' and not wrote_since_my_last_build(producer) -%}
        {{ return({
            'mode': 'full', 'why': producer ~ ' recorded no keys since the last build', 'replaces_stored': true,
        }) }}
    {%- endif -%}
    {{ return(scope) }}
{%- endmacro %}

{#- SQL: the rows of an append-only store the runs stamp with their as-of (`column`: the
    ledger's recorded_at, a close's closed_as_of) that were appended since the scope's last
    build. Every run builds the whole graph, so the rows stamped with the last build's as-of
    were all there when it was built, unless this run has the same as-of (the night again: it
    may append more under that date). -#}
{% macro stamped_since(scope, column) -%}
    {{ column }} {{ '>=' if scope.same_as_of else '>' }} {{ scope.prev_as_of_ts }}
{%- endmacro %}

{#- SQL: the marks table, created if it is missing. -#}
{% macro scope_marks_ddl(marks) -%}
    create table if not exists {{ marks }} (
        model_name varchar primary key,
        built_as_of date not null,
        through_seq bigint not null,
        fingerprint varchar not null
    )
{%- endmacro %}

{#- on-run-start (dbt_project.yml): the marks table exists before any model runs. Scoped models
    that do not depend on each other run side by side (int_signups_validated beside the Stripe
    chain), and two transactions creating the same table conflict in DuckDB. -#}
{% macro create_scope_marks() -%}
    {%- if target.type != 'duckdb' -%}{{ return('') }}{%- endif -%}
    {%- set marks = scope_marks_relation() -%}
    create schema if not exists {{ marks.database }}.{{ marks.schema }};
    {{ scope_marks_ddl(marks) }};
    {{ written_keys_ddl() }}
{%- endmacro %}

{#- Post-hook of a scoped model: remember what this build saw (in the build's transaction). -#}
{% macro record_scope_marks() -%}
    {%- if target.type != 'duckdb' -%}{{ return('') }}{%- endif -%}
    {%- set marks = scope_marks_relation() -%}
    {{ scope_marks_ddl(marks) }};
    delete from {{ marks }} where model_name = '{{ this.identifier }}';
    {%- set fingerprint = scope_fingerprint_sql() if execute else none %}
    {%- if fingerprint is not none and not invocation_args_dict.get('empty', false) %}
    insert into {{ marks }}
    select
        '{{ this.identifier }}',
        {{ as_of_date() }},
        (select coalesce(max(delivery_seq), 0) from {{ source('raw', 'load_manifest') }}),
        {{ fingerprint }};
    {%- endif %}
{%- endmacro %}

{#- Incremental strategy of scoped models: the model returns the recomputed rows and, flagged
    `scope_only`, the key of every row it recomputed (whether or not a row came back: a key can
    disappear). Each such key's stored row is deleted; the recomputed rows are inserted. The
    flag column is not a column of the table (the insert names the table's columns).

    A recomputed row equal to its stored row in every column (nulls equal, as INTERSECT
    compares) is first dropped from the model's temporary table, with its key: it is neither
    deleted nor inserted. A scope is wider than what changes (on M's closing night
    fct_paid_events recomputed 27,505 rows and 5,581 differed), and each replaced row is a
    deleted row the table keeps until a checkpoint compacts it
    (partner_ledger.io.warehouse.checkpoint). A model whose scope holds only rows that change
    skips that comparison (`compare_recomputed_rows=false`): it reads every stored row of the
    table to find none (fct_ledger_entries, docs/decisions/0012, session 25).

    In a `changes` build the stored rows of the scope's keys are read once, with their row
    ids, into a temporary table (scope_stored_rows): the comparison, the written groups and the
    delete read that table, and the delete finds its rows by row id. Each of the three read the
    stored table before, every row of it for a few thousand keys (int_paid_events_numbered at
    L: three scans of 7.5 million rows; docs/decisions/0012, session 35). A full build, whose
    scope is every stored key, compares and deletes as before: a copy of the whole table would
    be written first.

    A model with an `updated_columns` config (a list) may also return, flagged
    `updates_stored`, stored rows of which only those columns change (scope_select_updating):
    their key and new values, set in place by an update, without deleting the row or writing
    its other columns (fct_ledger_entries: the stored entries a close settles or pays, about
    221,500 on M's closing night, which only gain their batches). Their keys are not in the
    scope's keys.

    A `changes` build then records the keys it deleted, inserted or updated, for the night's
    data tests (macros/written_keys.sql); a full build records none. -#}
{% macro get_incremental_scope_replace_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set key = arg_dict['unique_key'] -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') -%}
    {%- set updated = config.get('updated_columns') or [] -%}
    {%- set recomputed = 'not scope_only' ~ (' and not updates_stored' if updated else '') -%}
    {%- set in_scope = key ~ ' in (select ' ~ key ~ ' from ' ~ source ~ ' where scope_only)' -%}
    {%- set compare = config.get('compare_recomputed_rows', true) -%}
    {%- set stored = scope_stored_rows(source) if compare and built_changes_only() else none -%}
    {%- set stored_rows = stored if stored is not none else target -%}
    {%- if stored is not none %}
    create temporary table {{ stored }} as
    select rowid as {{ stored_row_id() }}, {{ columns }} from {{ target }}
    where {{ in_scope }};
    {%- endif %}
    {%- if compare %}
    delete from {{ source }}
    where {{ key }} in (
        select unchanged.{{ key }}
        from (
            select {{ columns }} from {{ stored_rows }} where {{ in_scope }}
            intersect
            select {{ columns }} from {{ source }} where {{ recomputed }}
        ) as unchanged
    );
    {%- endif %}
    {{ record_changed_keys(source, key, arg_dict['dest_columns']) }};
    {%- if config.get('written_groups') and built_changes_only() %}
    {{ record_written_groups(stored_rows, source, key, config.get('written_groups')) }};
    {%- endif %}
    {%- if updated %}
    update {{ target }} as stored
    set {% for column in updated %}{{ column }} = updates.{{ column }}{{ ', ' if not loop.last }}{% endfor %}
    from (select * from {{ source }} where updates_stored) as updates
    where stored.{{ key }} = updates.{{ key }};
    {%- endif %}
    {%- if stored is not none %}
    delete from {{ target }}
    where rowid in (select {{ stored_row_id() }} from {{ stored }} where {{ in_scope }});
    drop table {{ stored }};
    {%- else %}
    delete from {{ target }} where {{ in_scope }};
    {%- endif %}
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }} where {{ recomputed }}
{%- endmacro %}

{#- The temporary table of a scoped model's stored rows in scope (get_incremental_scope_replace_sql),
    named after the model's temporary table (a table of the build's connection), and its column of
    row ids, a name no model's column takes. -#}
{% macro scope_stored_rows(source) -%}
    {{ return(adapter.quote(source.identifier ~ '__stored')) }}
{%- endmacro %}

{% macro stored_row_id() -%}
    scope_stored_row_id
{%- endmacro %}

{#- SQL, in a scoped model's strategy: a `changes` build records the distinct `key` values of
    `source` (macros/written_keys.sql); a full build records none and forgets the model's
    earlier keys, so its tests read every row. -#}
{% macro record_changed_keys(source, key, columns) -%}
    {%- if built_changes_only() -%}
    {{ record_written_keys(source, key, columns) }}
    {%- else -%}
    {{ forget_written_keys() }}
    {%- endif %}
{%- endmacro %}

{#- True when the model being built computed its `changes` scope (the comment change_scope's
    caller writes at the top of its SQL: `-- scope: changes (...)`); false for a full build,
    whose scope is every key. -#}
{% macro built_changes_only() -%}
    {{ return('\n-- scope: changes (' in model.compiled_code) }}
{%- endmacro %}

{#- Incremental strategy of models scoped by group (`unique_key`: the group's columns, a list):
    rows are recomputed a whole group at a time (a version's rank depends on every record of its
    key), so the model returns every row of each group in scope, then each group's columns once,
    flagged `scope_only`. Every stored row of those groups is deleted and the recomputed rows
    are inserted. Groups match null-safely: a record without a key belongs to the group of
    records without it, as in the window that ranks them.

    A model with a `written_key` config (a column naming its group, such as the attribution
    models' customer_id) records, in a `changes` build, the groups it replaced: every group in
    its scope, changed or not (macros/written_keys.sql). -#}
{% macro get_incremental_group_replace_sql(arg_dict) -%}
    {%- set target = arg_dict['target_relation'] -%}
    {%- set source = arg_dict['temp_relation'] -%}
    {%- set group_by = arg_dict['unique_key'] -%}
    {%- set columns = arg_dict['dest_columns'] | map(attribute='quoted') | join(', ') -%}
    delete from {{ target }}
    using (
        select distinct {{ group_by | join(', ') }} from {{ source }} where scope_only
    ) as scope_groups
    where {{ group_match(target, 'scope_groups', group_by) }};
    insert into {{ target }} ({{ columns }})
    select {{ columns }} from {{ source }} where not scope_only
    {%- if config.get('written_key') %};
    {{ record_changed_keys(source, config.get('written_key'), arg_dict['dest_columns']) }}
    {%- endif %}
{%- endmacro %}

{#- The final select of a model scoped by group (strategy `group_replace`), whose last CTE
    `rows` holds every row of the groups in scope and whose relation `scope_groups` lists those
    groups (`group_by`): in `changes` mode the rows and each group once; in a full build of a
    table that exists, every row, replacing every stored group; on a first build (and in a
    dbt unit test), the rows alone. -#}
{% macro group_scope_select(scope, rows, scope_groups, group_by) -%}
    {%- set columns = group_by | join(', ') -%}
    {%- if scope.mode == 'changes' or scope.replaces_stored -%}
    select *, false as scope_only from {{ rows }}
    union all by name
    select distinct {{ columns }}, true as scope_only
    from {{ scope_groups if scope.mode == 'changes' else '(select ' ~ columns ~ ' from ' ~ this ~ ' union all select ' ~ columns ~ ' from ' ~ rows ~ ')' }} as scope_keys
    {%- else -%}
    select * from {{ rows }}
    {%- endif %}
{%- endmacro %}

{#- The CTEs `scope_groups` (in `changes` mode: the keys, `group_by`, with a record delivered
    since the scope's last build or timestamped at or after its as-of) and `records` (every
    staged record of those keys; every record otherwise), for a model of tracking versions
    scoped by key (`staged`: its staging relation, with delivery_seq; the model's rows have
    record_at, the record's parsed timestamp). A record's quarantine reason and visibility move
    only with the as-of, and only for a record timestamped at or after the last as-of; its rank
    depends on every record of its key. -#}
{% macro versions_in_scope(staged, scope, group_by) -%}
{%- if scope.mode == 'changes' %}
scope_groups as (
    {{ groups_touched_since(staged, scope, group_by) | indent(4) }}
),
{% endif %}
{{ records_of_groups(staged, scope, group_by) }}
{%- endmacro %}

{#- SQL: the groups (`group_by`) of a model of tracking versions with a record delivered
    since the scope's last build (in `staged`, its staging relation) or timestamped at or after
    its as-of. A record delivered by that build is one of the model's stored rows (every record
    of a group is written with it), whose record_at is its parsed timestamp: read there, the
    timestamps of every staged record are not parsed again (the staging relation is a view) and
    the filter is pushed into the scan. At M, the signups' versions 0.43-0.45 -> 0.28 s alone
    (decision 0012, session 26). -#}
{% macro groups_touched_since(staged, scope, group_by) -%}
    {{ records_since(staged, group_by, scope, ['record_at'], stamped_in=this) }}
{%- endmacro %}

{#- The CTE `records`: in `changes` mode every staged record of the groups in the relation
    `scope_groups` (matched null-safely), every staged record otherwise. -#}
{% macro records_of_groups(staged, scope, group_by) -%}
records as (
    select records.*
    from {{ staged }} as records
    {%- if scope.mode == 'changes' %}
    semi join scope_groups
        on {{ group_match('records', 'scope_groups', group_by) }}
    {%- endif %}
)
{%- endmacro %}

{#- SQL: a join condition matching two relations' group columns null-safely. -#}
{% macro group_match(left, right, group_by) -%}
    {%- for column in group_by -%}
    {{ left }}.{{ column }} is not distinct from {{ right }}.{{ column }}
    {{- ' and ' if not loop.last }}
    {%- endfor -%}
{%- endmacro %}

{#- The rows a scoped model returns in `changes` mode: the recomputed rows, then every key in
    the scope flagged `scope_only`. -#}
{% macro scope_replace_rows(rows, scope, key) -%}
    select *, false as scope_only from {{ rows }}
    union all by name
    select {{ key }}, true as scope_only from {{ scope }} as scope_keys
{%- endmacro %}

{#- The final select of a scoped model whose last CTE is `rows` and whose scope's keys are the
    relation `scope_keys`: in `changes` mode the scope's rows; in a full build of a table that
    exists, every row, replacing every stored key; on a first build (and in a dbt unit test),
    the rows alone. -#}
{% macro scope_select(scope, rows, scope_keys, key) -%}
    {%- if scope.mode == 'changes' -%}
        {{ scope_replace_rows(rows, scope_keys, key) }}
    {%- elif scope.replaces_stored -%}
        {{ scope_replace_rows(
            rows, '(select ' ~ key ~ ' from ' ~ this ~ ' union select ' ~ key ~ ' from ' ~ rows ~ ')', key
        ) }}
    {%- else -%}
        select * from {{ rows }}
    {%- endif %}
{%- endmacro %}

{#- The final select of a scoped model with an `updated_columns` config (strategy
    `scope_replace`): scope_select's rows, and in `changes` mode the rows of the relation
    `updates` (the key and the updated columns of stored rows that change in those columns
    only), flagged `updates_stored`, which the strategy sets in place. The flag is written
    wherever the strategy runs (a `changes` build, a full build of a table that exists). -#}
{% macro scope_select_updating(scope, rows, scope_keys, key, updates) -%}
    {%- if scope.mode == 'changes' or scope.replaces_stored -%}
    select *, false as updates_stored
    from (
        {{ scope_select(scope, rows, scope_keys, key) | indent(8) }}
    ) as replaced
    {%- if scope.mode == 'changes' %}
    union all by name
    select *, false as scope_only, true as updates_stored from {{ updates }}
    {%- endif %}
    {%- else -%}
    {{ scope_select(scope, rows, scope_keys, key) }}
    {%- endif %}
{%- endmacro %}

{#- SQL: the `columns` of the rows of a table delivered since the scope's last build or
    stamped at or after its as-of on one of `stamps`, as a set (a union drops duplicates). One
    select per condition, so that each filter is pushed into its own scan, whose zone maps skip
    the row groups it cannot match (rows are stored in the order they were delivered). One
    filter of conditions on different columns joined by `or` is applied after a scan of the
    whole table: at L, the 50 million delivered clicks in 0.37-0.65 s against 0.06 s (decision
    0012, session 26). The stamps are read in `stamped_in` when given (a model's stored rows,
    where a view's timestamps are already parsed: groups_touched_since), in `relation`
    otherwise. -#}
{% macro records_since(relation, columns, scope, stamps, stamped_in=none) -%}
    select {{ columns | join(', ') }}
    from {{ relation }}
    where delivery_seq > {{ scope.prev_seq }}
    {%- for stamp in stamps %}
    union
    select {{ columns | join(', ') }}
    from {{ stamped_in if stamped_in is not none else relation }}
    where {{ stamp }} >= {{ scope.prev_as_of_ts }}
    {%- endfor %}
{%- endmacro %}

{#- A scope's keys as a temporary table of the model's connection, created as the model is
    compiled (the build's run of it follows on the same connection), and the select that reads
    it; the SQL itself where nothing runs (parsing, Spark).

    DuckDB plans a query on estimated row counts. A scope's keys are a union of filtered scans,
    estimated at a fifth of each table (900,000 charges at M where 5,209 were in scope), so it
    built its hash joins on the other side: on the 1.8 million invoices that name a charge, to
    keep the 5,114 of the scope (0.69 s of M's closing night). A table's count is exact: the
    joins are then built on the scope's few keys (decision 0012, session 30).

    The compiled SQL carries the table's SQL in a comment of a fixed form, so that it can be run
    elsewhere (benchmarks/plans.py makes the table from it first; an analyst can read it). -#}
{% macro materialized_scope(name, sql) -%}
    {%- if execute and target.type == 'duckdb' and model.resource_type == 'model' -%}
        {%- if '*/' in sql -%}
            {{ exceptions.raise_compiler_error("materialized_scope " ~ name ~ ": the SQL holds '*/'") }}
        {%- endif -%}
        {%- set table = adapter.quote(this.identifier ~ '__' ~ name) -%}
        {%- do run_query('create or replace temporary table ' ~ table ~ ' as\n' ~ sql) -%}
/* scope table {{ table }} (materialized_scope), made before this query from:
{{ sql }}
*/
select * from {{ table }}
    {%- else -%}
        {{ sql }}
    {%- endif -%}
{%- endmacro %}

{#- The Stripe objects of one type with a version loaded since the scope's last build. -#}
{% macro stripe_ids_delivered_since(object_type, scope) -%}
    select object_id
    from {{ source('raw', 'stripe_objects') }}
    where object_type = '{{ object_type }}'
        and delivery_seq > {{ scope.prev_seq }}
{%- endmacro %}

{#- The charges with a new version since the scope's last build, or created at or after its
    as-of (visibility): their own fields may have changed. -#}
{% macro stripe_charges_changed(scope) -%}
    {{ records_since(ref('stg_stripe__charges'), ['charge_id'], scope, ['created_at']) }}
{%- endmacro %}

{#- The charges whose int_stripe_charges_linked row may differ from the scope's last build:
    the charges changed themselves (stripe_charges_changed), and every charge that any version
    of an invoice with a new version names (the invoice may now name it, or have stopped naming
    it: its link can move). -#}
{% macro stripe_charges_scope(scope) -%}
    {%- set paths = ['$.charge'] -%}
    {{ stripe_charges_changed(scope) }}
    union
    select charge_id
    from (
        select {{ json_ref('invoice_versions.fields', '$.charge', paths) }} as charge_id
        from (
            select {{ json_fields('lines.body', paths) }} as fields
            from {{ source('raw', 'stripe_objects') }} as lines
            where lines.object_type = 'invoices'
                and lines.object_id in ({{ stripe_ids_delivered_since('invoices', scope) }})
        ) as invoice_versions
    ) as named
    where charge_id is not null
{%- endmacro %}

{#- The Stripe customers whose row may have changed since the scope's last build: a new
    version, or created at or after its as-of (visibility). -#}
{% macro stripe_customers_scope(scope) -%}
    {{ records_since(ref('stg_stripe__customers'), ['stripe_customer_id'], scope, ['created_at']) }}
{%- endmacro %}

{#- The paid events (paid_event_type, paid_event_id) whose int_paid_events_resolved row may
    differ from the scope's last build. An event's row is a function of its own record
    (invoice, charge or sale), the metadata of the invoice's charge, its Stripe customer, the
    earliest visible signup of its program and email, and the rules; so the scope is:
    - invoices and sales with a new version, or timestamped at or after the last as-of;
    - charges whose linked row may have changed (stripe_charges_scope), and invoices whose
      charge has a new version or may have become visible (its metadata routes the invoice);
    - the events of Stripe customers with a new version or that may have become visible;
    - the stored events of a (program, email) whose earliest signup may have changed: every
      email any version of a signup touched since the last build has had (old and new).
    The rules are in the fingerprint: a change rebuilds the model in full.

    `emails_of` is a relation of events with their program and Stripe email, read for that last
    rule: the model's stored rows by default. Current rows serve as well: an event whose email
    changed has a new version of its invoice, charge or customer, so it is in the scope anyway. -#}
{% macro paid_events_scope(scope, emails_of=none) -%}
{%- set scope_sql -%}
with
changed_charges as (
    {{ stripe_charges_changed(scope) | indent(4) }}
),

changed_customers as (
    {{ stripe_customers_scope(scope) | indent(4) }}
),

touched_signups as (
    {{ records_since(
        ref('int_signups_validated'), ['program_id', 'customer_key'], scope, ['record_at']
    ) | indent(4) }}
),

changed_emails as (
    select distinct signups.program_id, signups.email_normalized
    from {{ ref('int_signups_validated') }} as signups
    inner join touched_signups
        on signups.program_id = touched_signups.program_id
        and signups.customer_key = touched_signups.customer_key
    where signups.email_normalized is not null
),

events_of_changed_emails as (
    select stored.paid_event_type, stored.paid_event_id
    from {{ emails_of if emails_of is not none else this }} as stored
    inner join changed_emails
        on stored.program_id = changed_emails.program_id
        and stored.stripe_email = changed_emails.email_normalized
)

select 'invoice' as paid_event_type, invoice_id as paid_event_id
from {{ ref('stg_stripe__invoices') }}
where delivery_seq > {{ scope.prev_seq }}
    or paid_at >= {{ scope.prev_as_of_ts }}
    or charge_id in (select changed_charges.charge_id from changed_charges)
    or stripe_customer_id in (select changed_customers.stripe_customer_id from changed_customers)
union
select 'charge' as paid_event_type, charge_id as paid_event_id
from (
    {{ stripe_charges_scope(scope) | indent(4) }}
) as linked_scope
union
select 'charge' as paid_event_type, charge_id as paid_event_id
from {{ ref('int_stripe_charges_linked') }}
where stripe_customer_id in (select changed_customers.stripe_customer_id from changed_customers)
union
select 'sale' as paid_event_type, transaction_id as paid_event_id
from (
    {{ records_since(ref('int_sales_validated'), ['transaction_id'], scope, ['record_at']) | indent(4) }}
) as touched_sales
union
select paid_event_type, paid_event_id
from events_of_changed_emails
{%- endset %}
scope as (
    {{ materialized_scope('paid_events', scope_sql) | indent(4) }}
),

scope_keys as (
    select paid_event_type || ':' || paid_event_id as paid_event_key
    from scope
    where paid_event_id is not null
)
{%- endmacro %}

{#- The events whose customer's numbering may have changed (after paid_events_scope, whose
    `scope_keys` it reads): a customer's month numbers depend on all of the customer's valid
    events, so every event of a customer that a changed event belongs to, under the key it had
    (`stored`: the rows of the last build) and the key it has now (`current`: valid events).
    Gives `scope_customers` and `customer_event_keys`. -#}
{% macro customer_events_scope(stored, current) -%}
scope_customers as (
    select stored.program_id, stored.customer_key
    from {{ stored }} as stored
    where stored.paid_event_key in (select scope_keys.paid_event_key from scope_keys)
    union
    select current_events.program_id, current_events.customer_key
    from {{ current }} as current_events
    where current_events.paid_event_key in (select scope_keys.paid_event_key from scope_keys)
),

{# every stored event of a customer in scope, and every changed event (it may have left) #}
customer_event_keys as (
    select stored.paid_event_key
    from {{ stored }} as stored
    inner join scope_customers
        on stored.program_id = scope_customers.program_id
        and stored.customer_key = scope_customers.customer_key
    union
    select paid_event_key from scope_keys
)
{%- endmacro %}

{#- The events whose row of an attributed-events model (one row per event with its customer's
    winning touch) may have changed since the scope's last build: the events the numbering may
    have changed (paid_events_scope, customer_events_scope), and every event of a customer
    whose winning touch differs from the one `stored` (the model's rows, one winning touch per
    customer: partner_id null where none) was built with. Gives `attributed_event_keys`.
    `numbered_keys`: a query of the events whose numbered row changed since the scope's last
    build, when the numbering recorded them (macros/written_keys.sql), in place of finding
    them again. `attributed_customers`: a query of the customers (customer_id) whose
    int_customers_attributed row may have changed since the scope's last build, when that model
    recorded them: the winning touches are then compared for those customers only. -#}
{% macro attributed_events_scope(scope, stored, numbered_keys=none, attributed_customers=none) -%}
{%- if numbered_keys is none %}
{{ paid_events_scope(scope, emails_of=ref('int_paid_events_numbered')) }},

{{ customer_events_scope(stored, ref('int_paid_events_numbered')) }},
{%- else %}
customer_event_keys as (
    select key_value as paid_event_key from ({{ numbered_keys }}) as written
),
{%- endif %}

{%- if attributed_customers is not none %}

recomputed_customers as (
    {{ attributed_customers | indent(4) }}
),
{%- endif %}

attribution_built as (
    select distinct program_id, customer_key, partner_id, touch_source, touch_id, touched_at
    from {{ stored }}
    where partner_id is not null
    {%- if attributed_customers is not none %}
        and {{ group_text(['program_id', 'customer_key']) }} in (
            select recomputed_customers.customer_id from recomputed_customers
        )
    {%- endif %}
),

attribution_now as (
    select program_id, customer_key, partner_id, touch_source, touch_id, touched_at
    from {{ ref('int_customers_attributed') }}
    {%- if attributed_customers is not none %}
    where customer_id in (select recomputed_customers.customer_id from recomputed_customers)
    {%- endif %}
),

attribution_changed as (
    select program_id, customer_key
    from (
        (select * from attribution_built except select * from attribution_now)
        union all
        (select * from attribution_now except select * from attribution_built)
    ) as differing
),

attributed_event_keys as (
    select paid_event_key from customer_event_keys
    union
    select stored.paid_event_key
    from {{ stored }} as stored
    inner join attribution_changed
        on stored.program_id = attribution_changed.program_id
        and stored.customer_key = attribution_changed.customer_key
    union
    select current_events.paid_event_key
    from {{ ref('int_paid_events_numbered') }} as current_events
    inner join attribution_changed
        on current_events.program_id = attribution_changed.program_id
        and current_events.customer_key = attribution_changed.customer_key
)
{%- endmacro %}

{#- The final select of a model scoped by difference (after a CTE `rows` of every row, keyed by
    the single column `key`): in `changes` mode, the rows that differ from the stored ones, the
    keys that are gone, nothing else. The whole table is computed, but only what changed is
    written. For a table whose rows are cheap to compute from tables already built and costly
    to write; exact by construction. The marks still decide a full build: new code may change
    the columns, which a comparison with the stored rows cannot follow. -#}
{% macro diff_scope_select(scope, rows, key) -%}
    {%- if scope.mode == 'changes' -%}
, differing_keys as (
    select {{ key }}
    from (select * from {{ rows }} except select * from {{ this }}) as differing
    union
    select stored.{{ key }}
    from {{ this }} as stored
    where stored.{{ key }} not in (select current_rows.{{ key }} from {{ rows }} as current_rows)
)

select *, false as scope_only
from {{ rows }}
where {{ key }} in (select differing_keys.{{ key }} from differing_keys)
union all by name
select {{ key }}, true as scope_only from differing_keys
    {%- else %}

{{ scope_select(scope, rows, none, key) }}
    {%- endif %}
{%- endmacro %}

{#- SQL: the customers (customer_id) `producer`, a model scoped by customer, recomputed in this
    build (read after scope_reading_keys_of or wrote_since_my_last_build). -#}
{% macro recomputed_customers(producer) -%}
    select key_value as customer_id
    from ({{ written_key_values(producer) }}) as recomputed
{%- endmacro %}

{#- The customers whose int_touch_candidates rows may differ from the scope's last build
    (`scope_groups`, their customer_id). A customer's candidates are a function of its row of
    int_customers_identified, the clicks matching its signup's visitor or its click ids, the
    leads of its email, the coupon of its first paid event, the partners those touches name,
    and the rules (in the fingerprint). So the scope is:
    - the customers int_customers_identified recomputed (it recorded them: the caller reads
      them only when it did, scope_reading_keys_of);
    - the customers matching, by visitor or click id, any record of a click id with a record
      delivered since the last build or timestamped at or after its as-of (visibility, and the
      future-timestamp check): every record of a redelivered id, so a version that moved to
      another visitor rescopes the visitor it left;
    - the customers whose email any version of such a lead has had;
    - the customers whose first paid event carries a coupon code delivered since, or a code
      mapped to a partner below;
    - the customers with a stored candidate naming a code of a partner with a record delivered
      since, or timestamped (joined, status changed) at or after the as-of, or of a partner
      sharing a code with one (the first partner of a code owns it: a record that becomes valid
      can take a code from another partner, which falls back to its previous row). A candidate
      keeps the code it was judged by (a coupon's: its partner's), so a partner found by code
      is found under its old code and its new one, and an unknown code that a new partner takes.
    The stored candidates are this model's rows as the last build left them. -#}
{% macro touch_customers_scope(scope) -%}
identified as (
    select
        customer_id,
        program_id,
        signup_visitor_id,
        signup_click_id,
        stripe_click_id,
        customer_email,
        first_event_coupon_code
    from {{ ref('int_customers_identified') }}
),

changed_click_records as (
    {{ records_since(
        ref('int_clicks_delivered'), ['program_id', 'click_id', 'visitor_id'], scope, ['occurred_at']
    ) | indent(4) }}
),

changed_clicks as (
    select program_id, click_id, visitor_id from changed_click_records
    union
    select program_id, click_id, visitor_id
    from {{ ref('int_clicks_redelivered') }}
    where click_id in (select changed_click_records.click_id from changed_click_records)
),

changed_lead_emails as (
    select distinct program_id, email_normalized
    from {{ ref('int_leads_validated') }}
    where lead_id in (
        {{ records_since(ref('int_leads_validated'), ['lead_id'], scope, ['record_at']) | indent(8) }}
    )
        or delivery_seq > {{ scope.prev_seq }}
),

{# partners by id alone: a partner's versions may name different programs #}
changed_partner_ids as (
    {{ records_since(
        ref('int_partners_validated'), ['partner_id'], scope, ['joined_at', 'status_changed_at']
    ) | indent(4) }}
),

changed_partner_codes as (
    select distinct program_id, partner_code
    from {{ ref('int_partners_validated') }}
    where partner_id in (select changed_partner_ids.partner_id from changed_partner_ids)
),

affected_partner_ids as (
    select partner_id from changed_partner_ids
    union
    select partner_records.partner_id
    from {{ ref('int_partners_validated') }} as partner_records
    inner join changed_partner_codes
        on partner_records.program_id = changed_partner_codes.program_id
        and partner_records.partner_code = changed_partner_codes.partner_code
),

affected_partner_codes as (
    select distinct program_id, partner_code
    from {{ ref('int_partners_validated') }}
    where partner_id in (select affected_partner_ids.partner_id from affected_partner_ids)
),

changed_coupons as (
    select program_id, coupon_code
    from {{ ref('int_coupons_validated') }}
    where delivery_seq > {{ scope.prev_seq }}
        or partner_id in (select affected_partner_ids.partner_id from affected_partner_ids)
),

{# each changed input, the column of the customer's row it matches, and its own column #}
{%- set matches = [
    ('changed_clicks', 'signup_visitor_id', 'visitor_id'),
    ('changed_clicks', 'signup_click_id', 'click_id'),
    ('changed_clicks', 'stripe_click_id', 'click_id'),
    ('changed_lead_emails', 'customer_email', 'email_normalized'),
    ('changed_coupons', 'first_event_coupon_code', 'coupon_code'),
] %}

scope_groups as (
    {{ recomputed_customers('int_customers_identified') | indent(4) }}
    {%- for changed, column, changed_column in matches %}
    union
    select identified.customer_id
    from identified
    inner join {{ changed }}
        on identified.{{ column }} = {{ changed }}.{{ changed_column }}
        and identified.program_id = {{ changed }}.program_id
    {%- endfor %}
    union
    select stored.customer_id
    from {{ this }} as stored
    inner join affected_partner_codes
        on stored.partner_code = affected_partner_codes.partner_code
        and stored.program_id = affected_partner_codes.program_id
)
{%- endmacro %}
