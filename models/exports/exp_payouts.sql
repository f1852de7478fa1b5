{#- payouts.csv / payouts.parquet exactly as finance receives them (SPEC §3.2). -#}
select
    batch_id,
    partner_id,
    partner_name,
    partner_email,
    payout_method,
    payout_account,
    amount,
    amount_cents,
    currency
from {{ ref('fct_payout_lines') }}
