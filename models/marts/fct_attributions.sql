{#- Attribution (SPEC §2.2, §3.1): every candidate touch of every customer, the winner flagged
    and each loser with the reason it lost; a customer with no candidate has one row with no
    touch. From a payout line: ledger entry → (program, customer) → the winning touch here. -#}
with touches as (
    select * from {{ ref('int_touches_evaluated') }}
),

customers as (
    select * from {{ ref('int_customers_identified') }}
),

winners as (
    select program_id, customer_key, partner_id, touch_source, touch_id
    from touches
    where is_winner
),

candidates as (
    select
        touches.program_id,
        touches.customer_key,
        touches.converted_at,
        touches.touch_source,
        touches.touch_id,
        touches.touched_at,
        touches.partner_id as touch_partner_id,
        touches.source_priority,
        touches.window_days,
        touches.is_winner,
        touches.lost_reason
    from touches
),

untouched as (
    select
        customers.program_id,
        customers.customer_key,
        customers.converted_at,
        cast(null as varchar) as touch_source,
        cast(null as varchar) as touch_id,
        cast(null as timestamp) as touched_at,
        cast(null as varchar) as touch_partner_id,
        cast(null as integer) as source_priority,
        cast(null as integer) as window_days,
        false as is_winner,
        'no_candidate_touch' as lost_reason
    from customers
    where not exists (
        select 1 from touches
        where touches.program_id = customers.program_id
            and touches.customer_key = customers.customer_key
    )
),

rows_ as (
    select * from candidates
    union all
    select * from untouched
)

select
    {{ dbt.hash("concat_ws('|', rows_.program_id, rows_.customer_key, coalesce(rows_.touch_source, ''), coalesce(rows_.touch_id, ''))") }}
        as attribution_id,
    rows_.*,
    winners.partner_id as partner_id,
    winners.touch_source as winning_touch_source,
    winners.touch_id as winning_touch_id
from rows_
left join winners
    on rows_.program_id = winners.program_id
    and rows_.customer_key = winners.customer_key
