{#- The latest delivered version of each Stripe invoice (SPEC §1.2: a later line with the same
    id supersedes an earlier one; deliveries in arrival order, then line). -#}
with versions as (
    select * from {{ ref('base_stripe__invoices') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by invoice_id order by delivery_seq desc, line_no desc
        ) as version_rank
    from versions
),

latest as (
    select
        delivery_seq,
        file_path,
        line_no,
        invoice_id,
        stripe_customer_id,
        subscription_id,
        status,
        currency,
        amount_paid_cents,
        tax_cents,
        paid_at,
        charge_id,
        coupon_code,
        meta_program_id,
        meta_customer_key,
        meta_click_id,
        sub_program_id,
        sub_customer_key,
        sub_click_id
    from ranked
    where version_rank = 1
)

select * from latest
