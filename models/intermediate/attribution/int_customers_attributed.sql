{#- The winning touch of each customer that has an eligible one (SPEC §2.2): the best source
    priority, then the latest touch (last_touch) or the earliest (first_touch), then the
    smallest touch id as text. Priorities are distinct within a program, so the source at the
    end only orders what cannot tie. One partner per program and customer.

    Scoped by customer (macros/change_scope.sql, docs/decisions/0026): a customer's winner is a
    function of its candidates, so a night recomputes the customers int_touch_candidates
    recomputed (it records them: when it did not, since this model's last build, the model is
    built in full), and records them in turn. -#}
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

candidates as (
    select * from {{ ref('int_touch_candidates') }}
    {%- if scope.mode == 'changes' %}
    where customer_id in (select scope_groups.customer_id from scope_groups)
    {%- endif %}
),

eligible as (
    select * from candidates
    {#- timing_reason first: that test needs no partner, so it runs before the partner lookup #}
    where timing_reason is null
        and ineligible_reason is null
),

winners as (
    {{ first_of_groups(
        'eligible',
        ['program_id', 'customer_key', 'customer_id'],
        [
            'source_priority',
            "case when attribution_model = 'last_touch' then -1 else 1 end * "
                ~ epoch_microseconds('touched_at'),
            'touch_id',
            'touch_source',
        ],
        ['partner_id', 'touch_source', 'touch_id', 'touched_at', 'converted_at', 'source_priority'],
    ) | indent(4) }}
),

rows_ as (
    select
        program_id,
        customer_key,
        customer_id,
        partner_id,
        touch_source,
        touch_id,
        touched_at,
        converted_at,
        source_priority
    from winners
)

{{ group_scope_select(scope, 'rows_', 'scope_groups', ['customer_id']) }}
