{#- Everything that can take money back from a paid event (SPEC §1.1, §1.2, §2.7): Stripe
    refunds and disputes (latest version, visible) and Sale API refunds, each matched to its
    paid event. A refund of a charge through an invoice applies to the invoice's event. A known
    charge that is not a valid paid event makes the row ignored; an unknown charge, an amount
    ≤ 0 or another currency than the event's quarantines it. -#}
with charges as (
    select charge_id, invoice_id from {{ ref('int_stripe_charges_linked') }}
),

stripe_refunds as (
    select
        'refund' as refund_type,
        refund_id,
        charge_id,
        amount_cents,
        currency,
        status,
        created_at,
        delivery_seq,
        file_path,
        line_no
    from {{ ref('stg_stripe__refunds') }}
    where {{ is_visible('created_at') }}
    union all
    select
        'dispute' as refund_type,
        dispute_id,
        charge_id,
        amount_cents,
        currency,
        status,
        created_at,
        delivery_seq,
        file_path,
        line_no
    from {{ ref('stg_stripe__disputes') }}
    where {{ is_visible('created_at') }}
),

stripe_matched as (
    select
        stripe_refunds.refund_type,
        stripe_refunds.refund_id,
        case
            when charges.invoice_id is not null then 'invoice:' || charges.invoice_id
            else 'charge:' || charges.charge_id
        end as paid_event_key,
        stripe_refunds.created_at as refunded_at,
        stripe_refunds.amount_cents,
        stripe_refunds.currency,
        stripe_refunds.status,
        case
            when stripe_refunds.refund_type = 'refund' then stripe_refunds.status = 'succeeded'
            else stripe_refunds.status = 'lost'
        end as is_effective,
        charges.charge_id is not null as is_known_charge,
        stripe_refunds.delivery_seq,
        stripe_refunds.file_path,
        stripe_refunds.line_no
    from stripe_refunds
    left join charges
        on stripe_refunds.charge_id = charges.charge_id
),

sale_refunds as (
    select
        'sale_refund' as refund_type,
        transaction_id as refund_id,
        'sale:' || refund_of as paid_event_key,
        occurred_at as refunded_at,
        amount_cents,
        currency,
        'succeeded' as status,
        true as is_effective,
        true as is_known_charge,
        delivery_seq,
        file_path,
        line_no
    from {{ ref('int_sales_validated') }}
    where is_visible and kind = 'refund'
),

all_refunds as (
    select * from stripe_matched
    union all
    select * from sale_refunds
),

{# The events of the refunds only: joined to every event, the join hashed the events (7.5
    million at L: 1.7 s of a night, for 272,633 refunds); the semi-join hashes the refunds'
    keys (docs/decisions/0012, session 33). #}
events as (
    select paid_event_key, currency, event_amount_cents, quarantine_reason
    from {{ ref('int_paid_events_resolved') }}
    where paid_event_key in (select all_refunds.paid_event_key from all_refunds)
),

judged as (
    select
        all_refunds.*,
        all_refunds.refund_type || ':' || all_refunds.refund_id as refund_key,
        events.event_amount_cents,
        case
            when all_refunds.amount_cents is null or all_refunds.amount_cents <= 0 then 'invalid_amount'
            when {{ is_amount_out_of_range('all_refunds.amount_cents') }} then 'amount_out_of_range'
            when {{ timestamp_bound_reason("all_refunds.refunded_at") }} is not null
                then {{ timestamp_bound_reason("all_refunds.refunded_at") }}
            when not all_refunds.is_known_charge then 'unknown_charge'
            when events.paid_event_key is null or events.quarantine_reason is not null then null
            when {{ is_distinct('all_refunds.currency', 'events.currency') }} then 'currency_mismatch'
        end as quarantine_reason,
        all_refunds.is_known_charge
        and (events.paid_event_key is null or events.quarantine_reason is not null) as is_ignored
    from all_refunds
    left join events
        on all_refunds.paid_event_key = events.paid_event_key
)

select * from judged
