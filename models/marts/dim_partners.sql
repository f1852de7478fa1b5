{#- One row per partner the run knows (SPEC §1.1: only the newest row of a partner is known),
    with the status in effect at the run's as-of, the tier of the latest month evaluated (the
    month before the as-of: it is the current month until the run that closes it), the
    balance, and the outcome of the partner's last close. -#}
with partners as (
    select * from {{ ref('int_partners_current') }}
),

tiers as (
    select partner_id, month, month_start, tier, tier_rank, is_frozen
    from {{ ref('fct_partner_tiers_monthly') }}
),

latest_tier_month as (
    select partner_id, max(month_start) as month_start
    from tiers
    group by partner_id
),

latest_tiers as (
    select tiers.*
    from tiers
    inner join latest_tier_month
        on tiers.partner_id = latest_tier_month.partner_id
        and tiers.month_start = latest_tier_month.month_start
),

balances as (
    select * from {{ ref('fct_partner_balances') }}
),

statements as (
    select partner_id, period_start, batch_id, payout_cents, closing_balance_cents, carried_reason
    from {{ ref('fct_payout_statements') }}
),

last_statement_period as (
    select partner_id, max(period_start) as period_start
    from statements
    group by partner_id
),

last_statements as (
    select statements.*
    from statements
    inner join last_statement_period
        on statements.partner_id = last_statement_period.partner_id
        and statements.period_start = last_statement_period.period_start
)

select
    partners.partner_id,
    partners.program_id,
    partners.partner_code,
    partners.partner_name,
    partners.partner_email,
    partners.recruited_by,
    partners.joined_at,
    partners.status,
    partners.inactive_since,
    partners.payout_method,
    partners.payout_account,
    latest_tiers.month as tier_month,
    latest_tiers.tier,
    latest_tiers.tier_rank,
    latest_tiers.is_frozen as is_tier_frozen,
    balances.currency,
    coalesce(balances.balance_cents, 0) as balance_cents,
    coalesce(balances.held_cents, 0) as held_cents,
    coalesce(balances.paid_cents, 0) as paid_cents,
    last_statements.batch_id as last_batch_id,
    last_statements.payout_cents as last_payout_cents,
    last_statements.carried_reason as last_carried_reason
from partners
left join latest_tiers
    on partners.partner_id = latest_tiers.partner_id
left join balances
    on partners.program_id = balances.program_id
    and partners.partner_id = balances.partner_id
left join last_statements
    on partners.partner_id = last_statements.partner_id
