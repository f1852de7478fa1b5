{#- Clawbacks (SPEC §2.7), per earning entry E (commission or referral commission) and refund:
    cumulative clawback = −round(E × refunded so far / event amount), refunds in (time, id)
    order and capped at the event amount; each entry is the change of that cumulative value.
    E is the entry's current amount, so a corrected E recomputes its clawbacks. -#}
with earned as (
    select * from {{ ref('int_commissions_computed') }}
),

refunds as (
    select * from {{ ref('int_refunds_sequenced') }}
),

cumulative as (
    select
        earned.program_id,
        earned.partner_id,
        earned.currency,
        case earned.entry_type
            when 'commission' then 'clawback'
            else 'referral_clawback'
        end as entry_type,
        earned.entry_type as clawed_entry_type,
        refunds.refund_key,
        refunds.refund_id,
        refunds.refunded_at,
        refunds.refunded_cents,
        earned.paid_event_key,
        earned.paid_event_type,
        earned.paid_event_id,
        earned.customer_key,
        earned.referred_partner_id,
        earned.tier,
        earned.phase,
        earned.month_number,
        earned.rate_bps,
        earned.rate_version,
        earned.touch_source,
        earned.touch_id,
        -{{ round_half_away('earned.amount_cents * refunds.cumulative_refunded_cents', 'earned.event_amount_cents') }}
            as cumulative_clawback_cents
    from earned
    inner join refunds
        on earned.paid_event_key = refunds.paid_event_key
),

stepped as (
    select
        *,
        cumulative_clawback_cents - coalesce(lag(cumulative_clawback_cents) over (
            partition by partner_id, clawed_entry_type, paid_event_key
            order by refunded_at, refund_id, refund_key
        ), 0) as amount_cents
    from cumulative
)

select * from stepped
where amount_cents != 0
