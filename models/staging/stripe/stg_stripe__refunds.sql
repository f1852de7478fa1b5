{#- The latest delivered version of each Stripe refund (SPEC §1.2: a later line with the same
    id supersedes an earlier one; deliveries in arrival order, then line). -#}
with versions as (
    select * from {{ ref('base_stripe__refunds') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by refund_id order by delivery_seq desc, line_no desc
        ) as version_rank
    from versions
),

latest as (
    select
        delivery_seq,
        file_path,
        line_no,
        refund_id,
        charge_id,
        amount_cents,
        currency,
        status,
        created_at
    from ranked
    where version_rank = 1
)

select * from latest
