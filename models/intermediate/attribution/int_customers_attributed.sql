{#- The winning touch of each customer that has an eligible one (SPEC §2.2): the best source
    priority, then the latest touch (last_touch) or the earliest (first_touch), then the
    smallest touch id as text. Priorities are distinct within a program, so the source at the
    end only orders what cannot tie. One partner per program and customer. -#}
with eligible as (
    select * from {{ ref('int_touch_candidates') }}
    {#- timing_reason first: that test needs no partner, so it runs before the partner lookup #}
    where timing_reason is null
        and ineligible_reason is null
),

winners as (
    {{ first_of_groups(
        'eligible',
        ['program_id', 'customer_key'],
        [
            'source_priority',
            "case when attribution_model = 'last_touch' then -1 else 1 end * "
                ~ epoch_microseconds('touched_at'),
            'touch_id',
            'touch_source',
        ],
        ['partner_id', 'touch_source', 'touch_id', 'touched_at', 'converted_at', 'source_priority'],
    ) | indent(4) }}
)

select
    program_id,
    customer_key,
    partner_id,
    touch_source,
    touch_id,
    touched_at,
    converted_at,
    source_priority
from winners
