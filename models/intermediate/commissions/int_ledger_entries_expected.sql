{#- What every partner should have been credited, from all data this run sees (SPEC §2.8).
    The ledger key identifies an entry for correction: the same key with another amount is
    corrected by the difference; a changed partner or date is another key, so the old entry is
    reversed and the new one booked (SPEC §1.1 for adjustments).

    Scoped by difference (macros/change_scope.sql, docs/decisions/0026): a night computes every
    entry and writes the entries that changed, so an unchanged history is not written again.
    The commissions' entries (most of the ledger) are computed only for the paid events whose
    commission rows changed, when int_commissions_computed recorded them in this build
    (macros/written_keys.sql, docs/decisions/0029): an entry is a function of its commission
    row alone (and of the rules, in the fingerprint). The clawbacks and adjustments are computed
    whole and compared, as before. -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='ledger_key',
    incremental_strategy='scope_replace',
    post_hook="{{ record_scope_marks() }}",
) }}

{{ scope_dependencies() }}
{%- set scope = change_scope() %}
{%- set by_written_commissions = scope.mode == 'changes'
    and wrote_since_my_last_build('int_commissions_computed') %}
{#- the entry types of int_commissions_computed's rows: a type it adds must be added here
    (tests/test_change_scope.py compares the scoped table with a full build's) -#}
{%- set commission_types = "('commission', 'referral_commission')" %}
{%- set why = scope.why ~ ('; commissions by written keys' if by_written_commissions else '') %}
-- scope: {{ scope.mode }} ({{ why }})

with programs as (
    select program_id, currency from {{ ref('stg_rules__programs') }}
),

earned as (
    select
        program_id,
        partner_id,
        currency,
        entry_type,
        paid_event_key as source_key,
        paid_event_type,
        paid_event_id,
        customer_key,
        referred_partner_id,
        paid_at as earned_at,
        {{ dbt.dateadd('day', 'hold_days', 'paid_at') }} as available_at,
        amount_cents,
        tier,
        phase,
        month_number,
        rate_bps,
        rate_version,
        touch_source,
        touch_id
    from {{ ref('int_commissions_computed') }}
    {%- if by_written_commissions %}
    {# the commissions' rows written tonight, read by row id (macros/written_keys.sql) #}
    where rowid in ({{ row_ids_with_keys(
        ref('int_commissions_computed'), 'paid_event_key', written_key_values('int_commissions_computed')
    ) }})
    {%- endif %}
),

clawbacks as (
    select
        program_id,
        partner_id,
        currency,
        entry_type,
        refund_key as source_key,
        paid_event_type,
        paid_event_id,
        customer_key,
        referred_partner_id,
        refunded_at as earned_at,
        refunded_at as available_at,
        amount_cents,
        tier,
        phase,
        month_number,
        rate_bps,
        rate_version,
        touch_source,
        touch_id
    from {{ ref('int_clawbacks_computed') }}
),

adjustments as (
    select
        adjustments.program_id,
        adjustments.partner_id,
        programs.currency,
        'adjustment' as entry_type,
        'adjustment:' || adjustments.adjustment_id as source_key,
        cast(null as {{ dbt.type_string() }}) as paid_event_type,
        cast(null as {{ dbt.type_string() }}) as paid_event_id,
        cast(null as {{ dbt.type_string() }}) as customer_key,
        cast(null as {{ dbt.type_string() }}) as referred_partner_id,
        adjustments.effective_at as earned_at,
        adjustments.effective_at as available_at,
        adjustments.amount_cents,
        cast(null as {{ dbt.type_string() }}) as tier,
        cast(null as {{ dbt.type_string() }}) as phase,
        cast(null as integer) as month_number,
        cast(null as integer) as rate_bps,
        cast(null as date) as rate_version,
        cast(null as {{ dbt.type_string() }}) as touch_source,
        cast(null as {{ dbt.type_string() }}) as touch_id
    from {{ ref('int_adjustments_validated') }} as adjustments
    inner join programs
        on adjustments.program_id = programs.program_id
    where adjustments.is_visible
),

entries as (
    select * from earned
    union all
    select * from clawbacks
    union all
    select * from adjustments
),

expected as (
    select
        {{ dbt.hash(
            "concat_ws('|', program_id, partner_id, entry_type, source_key, "
            ~ "coalesce(paid_event_type || ':' || paid_event_id, ''), "
            ~ timestamp_key_text('earned_at') ~ ", " ~ timestamp_key_text('available_at') ~ ")"
        ) }} as ledger_key,
        *
    from entries
)

{%- if by_written_commissions %},

{# every stored commission entry of a written event and every recomputed one; the other
   entries by difference #}
differing_keys as (
    select stored.ledger_key
    from {{ this }} as stored
    where stored.entry_type in {{ commission_types }}
        and stored.source_key in ({{ written_key_values('int_commissions_computed') }})
    union
    select ledger_key from expected where entry_type in {{ commission_types }}
    union
    select ledger_key
    from (
        select * from expected where entry_type not in {{ commission_types }}
        except
        select * from {{ this }} where entry_type not in {{ commission_types }}
    ) as differing
    union
    select stored.ledger_key
    from {{ this }} as stored
    where stored.entry_type not in {{ commission_types }}
        and stored.ledger_key not in (
            select current_rows.ledger_key from expected as current_rows
            where current_rows.entry_type not in {{ commission_types }}
        )
)

select *, false as scope_only
from expected
where ledger_key in (select differing_keys.ledger_key from differing_keys)
union all by name
select ledger_key, true as scope_only from differing_keys
{%- else %}

{{ diff_scope_select(scope, 'expected', 'ledger_key') }}
{%- endif %}
