{#- One batch per program and closed period, empty or not (SPEC §2.9). -#}
with periods as (
    select * from {{ ref('ledger_period_closes') }}
),

statements as (
    select * from {{ ref('ledger_statements') }}
),

totals as (
    select
        batch_id,
        count(case when payout_cents > 0 then 1 end) as row_count,
        coalesce(sum(payout_cents), 0) as total_cents,
        coalesce(sum(case when carried_reason is not null then closing_balance_cents else 0 end), 0)
            as carried_cents,
        count(case when carried_reason is not null then 1 end) as carried_count,
        coalesce(sum(held_cents), 0) as held_cents
    from statements
    group by batch_id
)

select
    periods.batch_id,
    periods.program_id,
    periods.period,
    periods.period_start,
    periods.period_end,
    periods.closed_as_of as as_of,
    periods.currency,
    periods.debtor_name,
    periods.debtor_iban,
    periods.debtor_bic,
    coalesce(totals.row_count, 0) as row_count,
    cast(coalesce(totals.total_cents, 0) as bigint) as total_cents,
    cast(coalesce(totals.carried_cents, 0) as bigint) as carried_cents,
    coalesce(totals.carried_count, 0) as carried_count,
    cast(coalesce(totals.held_cents, 0) as bigint) as held_cents
from periods
left join totals
    on periods.batch_id = totals.batch_id
