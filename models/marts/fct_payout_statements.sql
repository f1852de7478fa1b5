{#- The statement of each partner at each close (SPEC §3.2): opening + activity − payout =
    closing, and each closing is the next close's opening. minor_digits says how to write its
    amounts in currency units (the HTML statements). -#}
select
    batch_id || '|' || partner_id as statement_id,
    *,
    {{ currency_minor_digits('currency') }} as minor_digits
from {{ ref('ledger_statements') }}
