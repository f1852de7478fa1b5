{#- The lines finance pays (SPEC §2.9, §3.2): one per partner paid at a close. -#}
select
    batch_id || '|' || partner_id as payout_line_id,
    batch_id,
    program_id,
    period,
    period_end,
    partner_id,
    partner_name,
    partner_email,
    payout_method,
    payout_account,
    {{ format_minor_units('payout_cents', 'currency') }} as amount,
    payout_cents as amount_cents,
    currency
from {{ ref('ledger_statements') }}
where payout_cents > 0
