{#- Every delivered record of the click ids delivered more than once: the only clicks whose
    SPEC §1.1 version is not their one record. A handful of rows next to tens of millions, kept
    beside int_clicks_delivered so that attribution versions them without scanning all clicks
    (docs/decisions/0011). Append-only, like the records: a run adds the records of the click ids
    that its new deliveries redelivered, the earlier records of those ids included.
    int_clicks_delivered is read twice, not through one CTE: DuckDB materializes a CTE read twice,
    which copied all ten million clicks at M every night (1.1 s) to find none or a few. -#}
{{ config(materialized='incremental', incremental_strategy='append') }}

with redelivered_ids as (
    select distinct click_id
    from {{ ref('int_clicks_delivered') }}
    where is_redelivery
    {% if is_incremental() %}
        and delivery_seq > (select coalesce(max(delivery_seq), 0) from {{ this }})
    {% endif %}
),

records as (
    select parsed.*
    from {{ ref('int_clicks_delivered') }} as parsed
    inner join redelivered_ids
        on parsed.click_id = redelivered_ids.click_id
)

{% if is_incremental() %}
select records.*
from records
left join {{ this }} as kept
    on records.delivery_seq = kept.delivery_seq
    and records.line_no = kept.line_no
where kept.delivery_seq is null
{% else %}
select * from records
{% endif %}
