-- SPEC §3.2: opening + activity − payout = closing, and each closing is the next close's opening.
with ordered as (
    select
        statements.*,
        lag(statements.closing_balance_cents) over (
            partition by statements.program_id, statements.partner_id order by statements.period
        ) as previous_closing_cents,
        lag(statements.period) over (
            partition by statements.program_id, statements.partner_id order by statements.period
        ) as previous_period
    from {{ ref('fct_payout_statements') }} as statements
)

select *
from ordered
where opening_balance_cents + commission_cents + referral_commission_cents + clawback_cents
    + adjustment_cents - payout_cents != closing_balance_cents
    or (
        previous_period = {{ year_month_text(dbt.dateadd('month', -1, 'period_start')) }}
        and opening_balance_cents != previous_closing_cents
    )
    or (
        coalesce(previous_period, '') != {{ year_month_text(dbt.dateadd('month', -1, 'period_start')) }}
        and opening_balance_cents != 0
    )
