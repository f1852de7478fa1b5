-- Every payout line equals the sum of the ledger entries it paid (paid_batch_id), and every paid
-- entry belongs to a line (lines that pay what a rebuild settled aside:
-- macros/rebuild_corrected_batches.sql).
with corrected as (
    {{ rebuild_corrected_batches() }}
),

lines as (
    select batch_id, partner_id, amount_cents from {{ ref('fct_payout_lines') }}
),

paid_entries as (
    select
        paid_batch_id as batch_id,
        partner_id,
        sum(amount_cents) as paid_cents,
        max(
            case when settled_batch_id in (select corrected.batch_id from corrected) then 1 else 0 end
        ) as pays_corrected
    from {{ ref('fct_ledger_entries') }}
    where entry_type != 'payout' and paid_batch_id is not null
    group by paid_batch_id, partner_id
)

select
    coalesce(lines.batch_id, paid_entries.batch_id) as batch_id,
    coalesce(lines.partner_id, paid_entries.partner_id) as partner_id,
    lines.amount_cents,
    paid_entries.paid_cents
from lines
full outer join paid_entries
    on lines.batch_id = paid_entries.batch_id
    and lines.partner_id = paid_entries.partner_id
where {{ is_distinct('lines.amount_cents', 'paid_entries.paid_cents') }}
    and coalesce(lines.batch_id, paid_entries.batch_id) not in (select corrected.batch_id from corrected)
    and coalesce(paid_entries.pays_corrected, 0) = 0
