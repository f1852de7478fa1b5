{#- The close of each period closed by this run (SPEC §2.9, §3.2), one row per partner with a
    statement: payable = entries available before the period's end − earlier payouts; paid in
    full when ≥ min_payout_cents and the partner is active with valid payout details at the
    period's end, otherwise carried with the first reason that applies. Entries settle at the
    first close that sees them available. Several periods closed by one run are settled in
    order (a recursive walk), each seeing the payouts of the ones before. Append-only: a closed
    period's rows never change. -#}
{{ config(materialized='incremental', incremental_strategy='append') }}

with {{ 'recursive ' if target.type != 'spark' }}batches as (
    select * from {{ ref('ledger_period_closes') }}
),

new_batches as (
    select
        batches.*,
        row_number() over (partition by batches.program_id order by batches.period_start) as period_index
    from batches
    where batches.closed_as_of = {{ as_of_date() }}
    {% if is_incremental() %}
        and batches.batch_id not in (select batch_id from {{ this }})
    {% endif %}
),

{# After a rebuild (docs/decisions/0017) the published folders say what each published close
    settled, per partner and entry type. The rebuilt ledger records every entry at the rebuild's
    as-of, so its first close would settle all of history again: each published amount is
    counted as settled by its published close (+, here) and taken back from the entries that
    first close settles (−, placed by int_ledger_entries_settled). Available, payable and
    payouts are unchanged (the two cancel); the opening balance of the first close after the
    rebuild is the published closing balance. #}
published as (
    select * from {{ source('raw', 'published_settlements') }}
),

programs as (
    select program_id, min_payout_cents from {{ ref('stg_rules__programs') }}
),

partners as (
    select * from {{ ref('int_partners_current') }}
),

{% if is_incremental() %}
earlier_payouts as (
    select program_id, partner_id, sum(payout_cents) as paid_cents
    from {{ this }}
    group by program_id, partner_id
),
{% else %}
earlier_payouts as (
    select
        cast(null as {{ dbt.type_string() }}) as program_id,
        cast(null as {{ dbt.type_string() }}) as partner_id,
        cast(0 as bigint) as paid_cents
    where false
),
{% endif %}

{# Which close settles each entry: one rule, in int_ledger_entries_settled (the amounts a
    rebuild takes back included); the published amounts are settled by their published close. #}
settled_accruals as (
    select
        program_id, partner_id, entry_type, amount_cents, earned_at, available_at,
        settled_period_start
    from {{ ref('int_ledger_entries_settled') }}
    union all
    select
        program_id, partner_id, entry_type, amount_cents,
        period_start as earned_at, period_start as available_at,
        period_start as settled_period_start
    from published
),

program_partners as (
    select distinct program_id, partner_id from settled_accruals
),

partner_batches as (
    select
        new_batches.batch_id,
        new_batches.program_id,
        new_batches.period,
        new_batches.period_start,
        new_batches.period_end,
        new_batches.closed_as_of,
        new_batches.period_index,
        new_batches.currency,
        program_partners.partner_id
    from new_batches
    inner join program_partners
        on new_batches.program_id = program_partners.program_id
),

{# Each new batch's sums over its program's entries, per partner: every partner of
    partner_batches has entries (program_partners comes from them), so the batches join the
    entries on the program alone. Joined to partner_batches on the partner too, the join hashed
    the 6 million entries of L (estimated a billion partner batches against 26,536): 2.0-2.2 s
    against 1.3-1.4 s (docs/decisions/0012, session 33). #}
measured as (
    select
        new_batches.batch_id,
        settled_accruals.partner_id,
        sum(
            case
                when settled_accruals.available_at < new_batches.period_end
                    then settled_accruals.amount_cents
                else 0
            end
        ) as available_cents,
        sum(
            case
                when settled_accruals.settled_period_start < new_batches.period_start
                    then settled_accruals.amount_cents
                else 0
            end
        ) as settled_before_cents,
        sum(
            case
                when settled_accruals.earned_at < new_batches.period_end
                    and settled_accruals.available_at >= new_batches.period_end
                    then settled_accruals.amount_cents
                else 0
            end
        ) as held_cents,
        count(
            case
                when settled_accruals.settled_period_start = new_batches.period_start
                    then 1
            end
        ) as settled_entries,
        sum(
            case
                when settled_accruals.settled_period_start = new_batches.period_start
                    and settled_accruals.entry_type = 'commission'
                    then settled_accruals.amount_cents
                else 0
            end
        ) as commission_cents,
        sum(
            case
                when settled_accruals.settled_period_start = new_batches.period_start
                    and settled_accruals.entry_type = 'referral_commission'
                    then settled_accruals.amount_cents
                else 0
            end
        ) as referral_commission_cents,
        sum(
            case
                when settled_accruals.settled_period_start = new_batches.period_start
                    and settled_accruals.entry_type in ('clawback', 'referral_clawback')
                    then settled_accruals.amount_cents
                else 0
            end
        ) as clawback_cents,
        sum(
            case
                when settled_accruals.settled_period_start = new_batches.period_start
                    and settled_accruals.entry_type = 'adjustment'
                    then settled_accruals.amount_cents
                else 0
            end
        ) as adjustment_cents
    from new_batches
    inner join settled_accruals
        on new_batches.program_id = settled_accruals.program_id
    group by new_batches.batch_id, settled_accruals.partner_id
),

{# Status as in effect at the period's end, as known to this run, and payout details. #}
eligibility as (
    select
        partner_batches.*,
        programs.min_payout_cents,
        partners.partner_name,
        partners.partner_email,
        partners.payout_method,
        partners.payout_account,
        case
            when partners.inactive_since <= partner_batches.period_end then partners.status
            else 'active'
        end as status_at_period_end,
        {{ is_valid_payout_account('partners.payout_method', 'partners.payout_account') }}
            as has_valid_payout_account,
        measured.available_cents,
        measured.settled_before_cents,
        measured.held_cents,
        measured.settled_entries,
        measured.commission_cents,
        measured.referral_commission_cents,
        measured.clawback_cents,
        measured.adjustment_cents,
        coalesce(earlier_payouts.paid_cents, 0) as earlier_paid_cents
    from partner_batches
    inner join measured
        on partner_batches.batch_id = measured.batch_id
        and partner_batches.partner_id = measured.partner_id
    inner join programs
        on partner_batches.program_id = programs.program_id
    left join partners
        on partner_batches.partner_id = partners.partner_id
    left join earlier_payouts
        on partner_batches.program_id = earlier_payouts.program_id
        and partner_batches.partner_id = earlier_payouts.partner_id
),

{# Closes of one run in period order, each seeing the payouts of the ones before: payable,
    then the carried reason (macros/payout_details.sql, the one home of its order), then the
    payout. Spark has no recursive query: there the walk is a fold over each partner's closes
    (macros/spark.sql). #}
{%- if target.type == 'spark' %}
{{ spark_settlement_walk() }}
{%- else %}
settlement_walk as (
    select
        batch_id,
        program_id,
        partner_id,
        period_index,
        paid_before_cents,
        payable_cents,
        carried_reason,
        {{ payout_cents('payable_cents', 'carried_reason') }} as payout_cents
    from (
        select
            batch_id,
            program_id,
            partner_id,
            period_index,
            earlier_paid_cents as paid_before_cents,
            available_cents - earlier_paid_cents as payable_cents,
            {{ carried_reason(
                'available_cents - earlier_paid_cents',
                'status_at_period_end',
                'payout_method',
                'payout_account',
                'has_valid_payout_account',
                'min_payout_cents',
            ) }} as carried_reason
        from eligibility
        where period_index = 1
    ) as first_close
    union all
    select
        batch_id,
        program_id,
        partner_id,
        period_index,
        paid_before_cents,
        payable_cents,
        carried_reason,
        {{ payout_cents('payable_cents', 'carried_reason') }} as payout_cents
    from (
        select
            next_close.batch_id,
            next_close.program_id,
            next_close.partner_id,
            next_close.period_index,
            next_close.paid_before_cents,
            next_close.available_cents - next_close.paid_before_cents as payable_cents,
            {{ carried_reason(
                'next_close.available_cents - next_close.paid_before_cents',
                'next_close.status_at_period_end',
                'next_close.payout_method',
                'next_close.payout_account',
                'next_close.has_valid_payout_account',
                'next_close.min_payout_cents',
            ) }} as carried_reason
        from (
            select
                eligibility.*,
                settlement_walk.paid_before_cents + settlement_walk.payout_cents as paid_before_cents
            from settlement_walk
            inner join eligibility
                on settlement_walk.program_id = eligibility.program_id
                and settlement_walk.partner_id = eligibility.partner_id
                and eligibility.period_index = settlement_walk.period_index + 1
        ) as next_close
    ) as later_close
),
{%- endif %}

statements as (
    select
        eligibility.batch_id,
        eligibility.program_id,
        eligibility.period,
        eligibility.period_start,
        eligibility.period_end,
        eligibility.closed_as_of,
        eligibility.partner_id,
        eligibility.partner_name,
        eligibility.partner_email,
        eligibility.payout_method,
        eligibility.payout_account,
        eligibility.status_at_period_end,
        eligibility.currency,
        cast(eligibility.settled_before_cents - settlement_walk.paid_before_cents as bigint)
            as opening_balance_cents,
        cast(eligibility.commission_cents as bigint) as commission_cents,
        cast(eligibility.referral_commission_cents as bigint) as referral_commission_cents,
        cast(eligibility.clawback_cents as bigint) as clawback_cents,
        cast(eligibility.adjustment_cents as bigint) as adjustment_cents,
        cast(settlement_walk.payable_cents as bigint) as payable_cents,
        cast(settlement_walk.payout_cents as bigint) as payout_cents,
        cast(settlement_walk.payable_cents - settlement_walk.payout_cents as bigint)
            as closing_balance_cents,
        cast(eligibility.held_cents as bigint) as held_cents,
        eligibility.settled_entries,
        settlement_walk.carried_reason
    from eligibility
    inner join settlement_walk
        on eligibility.batch_id = settlement_walk.batch_id
        and eligibility.partner_id = settlement_walk.partner_id
)

select *
from statements
where opening_balance_cents != 0
    or settled_entries > 0
    or payout_cents != 0
    or held_cents != 0
