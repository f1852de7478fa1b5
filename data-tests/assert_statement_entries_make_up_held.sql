-- Each statement's held_cents equals its held lines in fct_statement_entries (batches a rebuild
-- settled aside: macros/rebuild_corrected_batches.sql).
with corrected as (
    {{ rebuild_corrected_batches() }}
),

held as (
    select batch_id, partner_id, sum(amount_cents) as held_cents
    from {{ ref('fct_statement_entries') }}
    where line_kind = 'held'
    group by batch_id, partner_id
),

statements as (
    select batch_id, partner_id, held_cents from {{ ref('fct_payout_statements') }}
    where held_cents != 0
)

select coalesce(statements.batch_id, held.batch_id) as batch_id
from statements
full outer join held
    on statements.batch_id = held.batch_id
    and statements.partner_id = held.partner_id
where coalesce(statements.held_cents, 0) != coalesce(held.held_cents, 0)
    and coalesce(statements.batch_id, held.batch_id) not in (select corrected.batch_id from corrected)
