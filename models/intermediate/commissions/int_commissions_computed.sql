{#- Commissions (SPEC §2.4) and one level of referral commission (SPEC §2.5).
    A commission needs an attributed customer, a paid event at or after the winning touch, a
    partner not terminated at the event, a phase for the month number and a rate valid on the
    event's date for (tier of the event's month, phase). A referral commission goes to the
    partner's recruiter R (another partner of the program, not terminated at the event) and is
    computed from the rounded commission. Entries of 0 cents are not written. -#}
with events as (
    select * from {{ ref('int_paid_events_attributed') }}
),

partners as (
    select * from {{ ref('int_partners_current') }}
),

programs as (
    select * from {{ ref('stg_rules__programs') }}
),

phases as (
    select * from {{ ref('stg_rules__phases') }}
),

rates as (
    select * from {{ ref('stg_rules__rates') }}
),

tiers_monthly as (
    select partner_id, month_start, tier from {{ ref('ledger_partner_tiers_monthly') }}
),

eligible_events as (
    select
        events.program_id,
        events.customer_key,
        events.paid_event_key,
        events.paid_event_type,
        events.paid_event_id,
        events.paid_at,
        events.basis_scaled,
        events.event_amount_cents,
        events.month_number,
        events.partner_id,
        events.touch_source,
        events.touch_id,
        programs.hold_days,
        programs.currency,
        programs.referral_rate_bps,
        partners.recruited_by,
        phases.phase,
        tiers_monthly.tier
    from events
    inner join partners
        on events.partner_id = partners.partner_id
    inner join programs
        on events.program_id = programs.program_id
    inner join phases
        on events.program_id = phases.program_id
        and events.month_number >= phases.from_month
        and (phases.to_month is null or events.month_number <= phases.to_month)
    inner join tiers_monthly
        on events.partner_id = tiers_monthly.partner_id
        and events.paid_month_start = tiers_monthly.month_start
    where events.paid_at >= events.touched_at
        and (partners.terminated_at is null or partners.terminated_at > events.paid_at)
),

{# The rate version valid on an event's date (SPEC §2.4: the newest valid_from on or before
    it), chosen once per (program, tier, phase, day) the events fall on: a few thousand days
    rather than a million events at M, where ranking per event (its whole row carried) cost
    more than the rest of the model. #}
event_days as (
    select distinct
        program_id,
        tier,
        phase,
        cast(paid_at as date) as paid_date
    from eligible_events
),

day_rates as (
    select
        event_days.program_id,
        event_days.tier,
        event_days.phase,
        event_days.paid_date,
        rates.rate_bps,
        rates.valid_from as rate_version,
        row_number() over (
            partition by event_days.program_id, event_days.tier, event_days.phase, event_days.paid_date
            order by rates.valid_from desc
        ) as rate_choice
    from event_days
    inner join rates
        on event_days.program_id = rates.program_id
        and event_days.tier = rates.tier
        and event_days.phase = rates.phase
        and event_days.paid_date >= rates.valid_from
),

rated as (
    select
        eligible_events.*,
        day_rates.rate_bps,
        day_rates.rate_version
    from eligible_events
    inner join day_rates
        on eligible_events.program_id = day_rates.program_id
        and eligible_events.tier = day_rates.tier
        and eligible_events.phase = day_rates.phase
        and cast(eligible_events.paid_at as date) = day_rates.paid_date
    where day_rates.rate_choice = 1
),

commissions as (
    select
        program_id,
        partner_id,
        currency,
        'commission' as entry_type,
        paid_event_key,
        paid_event_type,
        paid_event_id,
        customer_key,
        cast(null as {{ dbt.type_string() }}) as referred_partner_id,
        paid_at,
        hold_days,
        event_amount_cents,
        tier,
        phase,
        month_number,
        rate_bps,
        rate_version,
        touch_source,
        touch_id,
        recruited_by,
        referral_rate_bps,
        {{ bps_of_scaled('basis_scaled', 'rate_bps') }} as amount_cents
    from rated
),

referrals as (
    select
        commissions.program_id,
        recruiters.partner_id,
        commissions.currency,
        'referral_commission' as entry_type,
        commissions.paid_event_key,
        commissions.paid_event_type,
        commissions.paid_event_id,
        commissions.customer_key,
        commissions.partner_id as referred_partner_id,
        commissions.paid_at,
        commissions.hold_days,
        commissions.event_amount_cents,
        commissions.tier,
        commissions.phase,
        commissions.month_number,
        commissions.referral_rate_bps as rate_bps,
        commissions.rate_version,
        commissions.touch_source,
        commissions.touch_id,
        recruiters.recruited_by,
        commissions.referral_rate_bps,
        {{ bps_of_cents('commissions.amount_cents', 'commissions.referral_rate_bps') }} as amount_cents
    from commissions
    inner join partners as recruiters
        on commissions.recruited_by = recruiters.partner_id
        and commissions.program_id = recruiters.program_id
        and commissions.partner_id != recruiters.partner_id
    where commissions.amount_cents != 0
        and (recruiters.terminated_at is null or recruiters.terminated_at > commissions.paid_at)
),

earned as (
    select * from commissions
    union all
    select * from referrals
)

{#- the ledger's columns: the referral's working columns (recruited_by, referral_rate_bps) dropped -#}
select {{ [
    'program_id', 'partner_id', 'currency', 'entry_type', 'paid_event_key', 'paid_event_type',
    'paid_event_id', 'customer_key', 'referred_partner_id', 'paid_at', 'hold_days',
    'event_amount_cents', 'tier', 'phase', 'month_number', 'rate_bps', 'rate_version',
    'touch_source', 'touch_id', 'amount_cents',
] | join(', ') }}
from earned
where amount_cents != 0
