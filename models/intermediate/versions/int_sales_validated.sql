{#- Sale API rows (SPEC §1.1). A refund must find a visible sale of the same program and
    currency; the check runs on the newest version, and a refund that fails it is quarantined
    and absent for this run.

    Scoped by transaction id (macros/change_scope.sql, docs/decisions/0026), as the signups'
    versions are by key: a night recomputes every record of the transaction ids with a record
    delivered since the last build or timestamped at or after its as-of (the only records whose
    reason or visibility can move), and of the refunds of those ids (a refund's check reads its
    sale's visible version). The sales a refund in scope reads come from the recomputed records
    for the ids in scope and from the stored rows for the others, which are as that build left
    them. -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key=['transaction_id'],
    incremental_strategy='group_replace',
    post_hook="{{ record_scope_marks() }}",
) }}

{{ scope_dependencies() }}
{%- set scope = change_scope() %}
{%- set group_by = ['transaction_id'] %}
-- scope: {{ scope.mode }} ({{ scope.why }})

with
{%- if scope.mode == 'changes' %}

touched_ids as (
    {{ groups_touched_since(ref('stg_tracking__sales'), scope, group_by) | indent(4) }}
),

{# every version of a refund of a touched id: its newest version's check may move #}
scope_groups as (
    select transaction_id from touched_ids
    union
    select refunds.transaction_id
    from {{ ref('stg_tracking__sales') }} as refunds
    where refunds.refund_of in (select touched_ids.transaction_id from touched_ids)
),
{%- endif %}

{{ records_of_groups(ref('stg_tracking__sales'), scope, group_by) }},

programs as (
    select program_id from {{ ref('stg_rules__programs') }}
),

records_checked as (
    select
        records.*,
        records.occurred_at as record_at,
        {{ record_quarantine_reason('records.row_error', 'records.occurred_at', 'programs.program_id') }}
            as quarantine_reason
    from records
    left join programs
        on records.program_id = programs.program_id
),

{# the newest valid delivery of a key, then its last line, is the version in force #}
ranked as (
    select
        *,
        row_number() over (
            partition by transaction_id, quarantine_reason is null
            order by delivery_seq desc, line_no desc
        ) as version_rank
    from records_checked
),

versions as (
    select
        *,
        quarantine_reason is null and version_rank = 1 as is_newest,
        (
            quarantine_reason is null
            and version_rank = 1
            and (record_at is null or {{ is_visible('record_at') }})
        ) as is_visible
    from ranked
),

visible_sales as (
    select transaction_id, program_id, currency
    from versions
    where is_visible and kind = 'sale'
    {%- if scope.mode == 'changes' %}
    union all
    select stored.transaction_id, stored.program_id, stored.currency
    from {{ this }} as stored
    where stored.is_visible
        and stored.kind = 'sale'
        and stored.transaction_id not in (
            select scope_groups.transaction_id from scope_groups
            where scope_groups.transaction_id is not null
        )
    {%- endif %}
),

checked as (
    select
        versions.delivery_seq,
        versions.file_path,
        versions.line_no,
        versions.raw_text,
        versions.transaction_id,
        versions.program_id,
        versions.customer_key,
        versions.kind,
        versions.amount_cents_text,
        versions.amount_cents,
        versions.currency,
        versions.occurred_at_text,
        versions.occurred_at,
        versions.refund_of,
        versions.coupon_code,
        versions.row_error,
        versions.record_at,
        versions.version_rank,
        versions.is_newest,
        case
            when versions.is_visible and versions.kind = 'refund' and visible_sales.transaction_id is null
                then 'refund_without_sale'
            else versions.quarantine_reason
        end as quarantine_reason,
        versions.is_visible
        and not (versions.kind = 'refund' and visible_sales.transaction_id is null) as is_visible
    from versions
    left join visible_sales
        on versions.refund_of = visible_sales.transaction_id
        and versions.program_id = visible_sales.program_id
        and versions.currency = visible_sales.currency
)

{{ group_scope_select(scope, 'checked', 'scope_groups', group_by) }}
