-- Every batch's total equals its payout lines and the payout entries of the ledger (SPEC §2.9).
with lines as (
    select batch_id, sum(amount_cents) as lines_cents, count(*) as lines_count
    from {{ ref('fct_payout_lines') }}
    group by batch_id
),

ledger as (
    select batch_id, -sum(amount_cents) as ledger_cents
    from {{ ref('fct_ledger_entries') }}
    where entry_type = 'payout'
    group by batch_id
)

select batches.batch_id
from {{ ref('fct_payout_batches') }} as batches
left join lines on batches.batch_id = lines.batch_id
left join ledger on batches.batch_id = ledger.batch_id
where batches.total_cents != coalesce(lines.lines_cents, 0)
    or batches.total_cents != coalesce(ledger.ledger_cents, 0)
    or batches.row_count != coalesce(lines.lines_count, 0)
