{#- The statement of each partner at each close (SPEC §3.2): opening + activity − payout =
    closing, and each closing is the next close's opening. -#}
select
    batch_id || '|' || partner_id as statement_id,
    *
from {{ ref('int_payout_statements') }}
