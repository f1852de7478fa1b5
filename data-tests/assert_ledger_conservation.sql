-- SPEC §2.8: per partner and currency, commissions + referral commissions + clawbacks + adjustments
-- = paid + balance, and the balance is the sum of every ledger entry.
with ledger as (
    select program_id, partner_id, currency, sum(amount_cents) as ledger_sum_cents
    from {{ ref('fct_ledger_entries') }}
    group by program_id, partner_id, currency
)

select balances.*
from {{ ref('fct_partner_balances') }} as balances
left join ledger
    on balances.program_id = ledger.program_id
    and balances.partner_id = ledger.partner_id
    and balances.currency = ledger.currency
where balances.commission_cents + balances.referral_commission_cents + balances.clawback_cents
    + balances.referral_clawback_cents + balances.adjustment_cents
    != balances.paid_cents + balances.balance_cents
    or balances.balance_cents != ledger.ledger_sum_cents
