{#- The latest delivered version of each Stripe customer (SPEC §1.2: a later line with the same
    id supersedes an earlier one; deliveries in arrival order, then line). -#}
with versions as (
    select * from {{ ref('base_stripe__customers') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by stripe_customer_id order by delivery_seq desc, line_no desc
        ) as version_rank
    from versions
),

latest as (
    select
        delivery_seq,
        file_path,
        line_no,
        stripe_customer_id,
        email_normalized,
        created_at,
        meta_customer_key,
        meta_program_id,
        meta_click_id
    from ranked
    where version_rank = 1
)

select * from latest
