-- Each statement's activity equals the ledger entries that name its batch as settled_batch_id
-- (batches a rebuild settled aside: macros/rebuild_corrected_batches.sql).
with corrected as (
    {{ rebuild_corrected_batches() }}
),

settled as (
    select
        settled_batch_id as batch_id,
        partner_id,
        sum(case when entry_type = 'commission' then amount_cents else 0 end) as commission_cents,
        sum(case when entry_type = 'referral_commission' then amount_cents else 0 end) as referral_commission_cents,
        sum(case when entry_type in ('clawback', 'referral_clawback') then amount_cents else 0 end) as clawback_cents,
        sum(case when entry_type = 'adjustment' then amount_cents else 0 end) as adjustment_cents
    from {{ ref('fct_ledger_entries') }}
    where entry_type != 'payout' and settled_batch_id is not null
    group by settled_batch_id, partner_id
),

statements as (
    select batch_id, partner_id, commission_cents, referral_commission_cents, clawback_cents, adjustment_cents
    from {{ ref('fct_payout_statements') }}
)

select coalesce(statements.batch_id, settled.batch_id) as batch_id
from statements
full outer join settled
    on statements.batch_id = settled.batch_id
    and statements.partner_id = settled.partner_id
where coalesce(statements.batch_id, settled.batch_id) not in (select corrected.batch_id from corrected)
    and (
        coalesce(statements.commission_cents, 0) != coalesce(settled.commission_cents, 0)
        or coalesce(statements.referral_commission_cents, 0) != coalesce(settled.referral_commission_cents, 0)
        or coalesce(statements.clawback_cents, 0) != coalesce(settled.clawback_cents, 0)
        or coalesce(statements.adjustment_cents, 0) != coalesce(settled.adjustment_cents, 0)
    )
