{#- Every candidate touch with its verdict (SPEC §2.2): the winner, or the reason it lost —
    the eligibility rule it broke, else how it compares with the winner. -#}
{{ config(materialized='view') }}

with judged as (
    select * from {{ ref('int_touches_judged') }}
),

winners as (
    select * from {{ ref('int_customers_attributed') }}
),

explained as (
    select
        judged.program_id,
        judged.customer_key,
        judged.touch_source,
        judged.touch_id,
        judged.touched_at,
        judged.partner_id,
        judged.converted_at,
        judged.window_days,
        judged.source_priority,
        judged.attribution_model,
        coalesce(
            judged.touch_source = winners.touch_source and judged.touch_id = winners.touch_id,
            false
        ) as is_winner,
        case
            when judged.ineligible_reason is not null then judged.ineligible_reason
            when judged.touch_source = winners.touch_source and judged.touch_id = winners.touch_id
                then null
            when judged.source_priority > winners.source_priority then 'lower_priority_source'
            when judged.touched_at != winners.touched_at and judged.attribution_model = 'last_touch'
                then 'older_touch'
            when judged.touched_at != winners.touched_at then 'newer_touch'
            else 'same_time_larger_id'
        end as lost_reason
    from judged
    left join winners
        on judged.program_id = winners.program_id
        and judged.customer_key = winners.customer_key
)

select * from explained
