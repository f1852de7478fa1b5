{#- Attribution (SPEC §2.2, §3.1): every candidate touch of every customer, the winner flagged
    and each loser with the reason it lost; a customer with no candidate has one row with no
    touch. From a payout line: ledger entry → (program, customer) → the winning touch here.
    One row per (program_id, customer_key, touch_source, touch_id); customer_id names the
    customer in one text (`program|key`, as dim_customers).

    Scoped by customer (macros/change_scope.sql, docs/decisions/0026): a customer's rows are a
    function of its candidates, its winner and its conversion, so a night recomputes the
    customers int_touch_candidates recomputed (those int_customers_identified recomputed among
    them; the winners are a function of the candidates). When it did not record them since this
    model's last build, the model is built in full. -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key=['customer_id'],
    incremental_strategy='group_replace',
    written_key='customer_id',
    post_hook="{{ record_scope_marks() }}",
) }}

{{ scope_dependencies() }}
{%- set scope = scope_reading_keys_of(change_scope(), 'int_touch_candidates') %}
-- scope: {{ scope.mode }} ({{ scope.why }})

with
{%- if scope.mode == 'changes' %}

scope_groups as (
    {{ recomputed_customers('int_touch_candidates') }}
),
{%- endif %}

touches as (
    select * from {{ ref('int_touch_verdicts') }}
    {%- if scope.mode == 'changes' %}
    where customer_id in (select scope_groups.customer_id from scope_groups)
    {%- endif %}
),

customers as (
    select program_id, customer_key, customer_id, converted_at
    from {{ ref('int_customers_identified') }}
    {%- if scope.mode == 'changes' %}
    where customer_id in (select scope_groups.customer_id from scope_groups)
    {%- endif %}
),

winners as (
    select program_id, customer_key, partner_id, touch_source, touch_id
    from {{ ref('int_customers_attributed') }}
    {%- if scope.mode == 'changes' %}
    where customer_id in (select scope_groups.customer_id from scope_groups)
    {%- endif %}
),

candidates as (
    select
        program_id,
        customer_key,
        customer_id,
        converted_at,
        touch_source,
        touch_id,
        touched_at,
        partner_id as touch_partner_id,
        source_priority,
        window_days,
        is_winner,
        lost_reason
    from touches
),

untouched as (
    select
        customers.program_id,
        customers.customer_key,
        customers.customer_id,
        customers.converted_at,
        cast(null as {{ dbt.type_string() }}) as touch_source,
        cast(null as {{ dbt.type_string() }}) as touch_id,
        cast(null as timestamp) as touched_at,
        cast(null as {{ dbt.type_string() }}) as touch_partner_id,
        cast(null as integer) as source_priority,
        cast(null as integer) as window_days,
        false as is_winner,
        'no_candidate_touch' as lost_reason
    from customers
    where
        not exists (
            select 1
            from candidates
            where
                candidates.program_id = customers.program_id
                and candidates.customer_key = customers.customer_key
        )
),

rows_ as (
    select * from candidates
    union all
    select * from untouched
),

attributions as (
    select
        rows_.*,
        winners.partner_id,
        winners.touch_source as winning_touch_source,
        winners.touch_id as winning_touch_id
    from rows_
    left join winners
        on rows_.program_id = winners.program_id
        and rows_.customer_key = winners.customer_key
)

{{ group_scope_select(scope, 'attributions', 'scope_groups', ['customer_id']) }}
