{#- Every candidate touch with its verdict (SPEC §2.2): the winner, or the reason it lost —
    the eligibility rule it broke, else how it compares with the winner. -#}
{{ config(materialized='view') }}

with judged as (
    select * from {{ ref('int_touch_candidates') }}
),

winners as (
    select * from {{ ref('int_customers_attributed') }}
),

with_winner as (
    select
        judged.*,
        coalesce(
            judged.touch_source = winners.touch_source and judged.touch_id = winners.touch_id,
            false
        ) as is_winner,
        winners.source_priority as winner_priority,
        winners.touched_at as winner_touched_at
    from judged
    left join winners
        on judged.program_id = winners.program_id
        and judged.customer_key = winners.customer_key
),

explained as (
    select
        program_id,
        customer_key,
        customer_id,
        touch_source,
        touch_id,
        touched_at,
        partner_id,
        converted_at,
        window_days,
        source_priority,
        attribution_model,
        is_winner,
        case
            when ineligible_reason is not null then ineligible_reason
            when is_winner then null
            when source_priority > winner_priority then 'lower_priority_source'
            when touched_at != winner_touched_at and attribution_model = 'last_touch'
                then 'older_touch'
            when touched_at != winner_touched_at then 'newer_touch'
            else 'same_time_larger_id'
        end as lost_reason
    from with_winner
)

select * from explained
