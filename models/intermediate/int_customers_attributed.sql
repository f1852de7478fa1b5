{#- The winning touch of each attributed customer: one partner per program and customer. -#}
with touches as (
    select * from {{ ref('int_touches_evaluated') }}
    where is_winner
)

select
    program_id,
    customer_key,
    partner_id,
    touch_source,
    touch_id,
    touched_at,
    converted_at
from touches
