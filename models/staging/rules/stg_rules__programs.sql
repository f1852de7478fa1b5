select
    program_id,
    name as program_name,
    upper(currency) as currency,
    hold_days,
    min_payout_cents,
    referral_rate_bps,
    attribution_model,
    is_default,
    debtor_name,
    debtor_iban,
    debtor_bic
from {{ source('rules', 'programs') }}
