{#- statements.csv exactly as finance receives it (SPEC §3.2). -#}
select
    batch_id,
    partner_id,
    opening_balance_cents,
    commission_cents,
    referral_commission_cents,
    clawback_cents,
    adjustment_cents,
    payout_cents,
    closing_balance_cents,
    held_cents,
    carried_reason
from {{ ref('fct_payout_statements') }}
