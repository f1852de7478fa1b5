{#- Visible Stripe charges with the invoice they belong to: the charge names the invoice, or
    the invoice names the charge (some Stripe-compatible servers leave charge.invoice empty on
    invoice charges). A charge with an invoice is not a paid event of its own; its refunds and
    disputes apply to the invoice's paid event (SPEC §1.2, §2.3). -#}
with charges as (
    select * from {{ ref('stg_stripe__charges') }}
    where {{ is_visible('created_at') }}
),

invoice_charge_links as (
    select charge_id, invoice_id from {{ ref('stg_stripe__invoices') }}
    where charge_id is not null
),

linked as (
    select
        charges.* exclude (invoice_id),
        coalesce(charges.invoice_id, invoice_charge_links.invoice_id) as invoice_id
    from charges
    left join invoice_charge_links
        on charges.charge_id = invoice_charge_links.charge_id
)

select * from linked
