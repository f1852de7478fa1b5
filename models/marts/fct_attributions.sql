{#- Attribution (SPEC §2.2, §3.1): every candidate touch of every customer, the winner flagged
    and each loser with the reason it lost; a customer with no candidate has one row with no
    touch. From a payout line: ledger entry → (program, customer) → the winning touch here.
    One row per (program_id, customer_key, touch_source, touch_id). -#}
with touches as (
    select * from {{ ref('int_touch_verdicts') }}
),

customers as (
    select program_id, customer_key, converted_at from {{ ref('int_customers_identified') }}
),

winners as (
    select program_id, customer_key, partner_id, touch_source, touch_id
    from {{ ref('int_customers_attributed') }}
),

candidates as (
    select
        program_id,
        customer_key,
        converted_at,
        touch_source,
        touch_id,
        touched_at,
        partner_id as touch_partner_id,
        source_priority,
        window_days,
        is_winner,
        lost_reason
    from touches
),

untouched as (
    select
        customers.program_id,
        customers.customer_key,
        customers.converted_at,
        cast(null as {{ dbt.type_string() }}) as touch_source,
        cast(null as {{ dbt.type_string() }}) as touch_id,
        cast(null as timestamp) as touched_at,
        cast(null as {{ dbt.type_string() }}) as touch_partner_id,
        cast(null as integer) as source_priority,
        cast(null as integer) as window_days,
        false as is_winner,
        'no_candidate_touch' as lost_reason
    from customers
    where
        not exists (
            select 1
            from candidates
            where
                candidates.program_id = customers.program_id
                and candidates.customer_key = customers.customer_key
        )
),

rows_ as (
    select * from candidates
    union all
    select * from untouched
)

select
    rows_.*,
    winners.partner_id,
    winners.touch_source as winning_touch_source,
    winners.touch_id as winning_touch_id
from rows_
left join winners
    on rows_.program_id = winners.program_id
    and rows_.customer_key = winners.customer_key
