{#- Per partner and currency (SPEC §2.8): what was earned by type, what was paid, and the
    balance (the sum of all entries, payouts included). held_cents is the part of the balance
    not yet available at the run's as-of. -#}
with entries as (
    select * from {{ ref('fct_ledger_entries') }}
),

partners as (
    select partner_id, partner_name, status from {{ ref('int_partners_current') }}
),

balances as (
    select
        program_id,
        partner_id,
        currency,
        cast(sum(case when entry_type = 'commission' then amount_cents else 0 end) as bigint) as commission_cents,
        cast(sum(case when entry_type = 'referral_commission' then amount_cents else 0 end) as bigint)
            as referral_commission_cents,
        cast(sum(case when entry_type = 'clawback' then amount_cents else 0 end) as bigint) as clawback_cents,
        cast(sum(case when entry_type = 'referral_clawback' then amount_cents else 0 end) as bigint)
            as referral_clawback_cents,
        cast(sum(case when entry_type = 'adjustment' then amount_cents else 0 end) as bigint) as adjustment_cents,
        cast(-sum(case when entry_type = 'payout' then amount_cents else 0 end) as bigint) as paid_cents,
        cast(sum(amount_cents) as bigint) as balance_cents,
        cast(
            sum(case when entry_type != 'payout' and available_at >= {{ as_of_ts() }} then amount_cents else 0 end)
            as bigint
        ) as held_cents
    from entries
    group by program_id, partner_id, currency
)

select
    balances.program_id || '|' || balances.partner_id || '|' || balances.currency as partner_balance_id,
    balances.*,
    partners.partner_name,
    partners.status as partner_status,
    {{ as_of_date() }} as as_of
from balances
left join partners
    on balances.partner_id = partners.partner_id
