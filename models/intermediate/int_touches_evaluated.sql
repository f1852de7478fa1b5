{#- Every candidate touch of every customer (SPEC §2.2), judged: the first rule it breaks, or
    its rank among the eligible touches (1 = the winner). Sources without a row in
    attribution_sources give no candidates. -#}
with customers as (
    select * from {{ ref('int_customers_identified') }}
),

{#- Only clicks that can be a candidate are versioned: a click id with any valid-looking
    version matching a customer's click id or visitor id. (A click whose newest version matches
    has such a version, so nothing is missed; the match is redone on the newest version.) -#}
customer_click_ids as (
    select program_id, signup_click_id as click_id from customers where signup_click_id is not null
    union
    select program_id, stripe_click_id from customers where stripe_click_id is not null
),

customer_visitors as (
    select distinct program_id, signup_visitor_id as visitor_id
    from customers
    where signup_visitor_id is not null
),

candidate_click_ids as (
    select parsed.click_id
    from {{ ref('int_clicks_parsed') }} as parsed
    inner join customer_click_ids
        on parsed.program_id = customer_click_ids.program_id
        and parsed.click_id = customer_click_ids.click_id
    where parsed.row_error is null
    union
    select parsed.click_id
    from {{ ref('int_clicks_parsed') }} as parsed
    inner join customer_visitors
        on parsed.program_id = customer_visitors.program_id
        and parsed.visitor_id = customer_visitors.visitor_id
    where parsed.row_error is null
),

clicks as (
    select click_id, program_id, partner_code, occurred_at, visitor_id
    from (
        {{ validated_versions(
            'int_clicks_parsed', ['click_id'], 'occurred_at',
            records_filter='click_id in (select click_id from candidate_click_ids)'
        ) | indent(8) }}
    ) as click_versions
    where is_visible
),

leads as (
    select lead_id, program_id, partner_code, email_normalized, occurred_at
    from {{ ref('int_leads_validated') }}
    where is_visible
),

coupons as (
    select coupon_code, program_id, partner_id
    from {{ ref('int_coupons_validated') }}
    where is_visible
),

partners as (
    select * from {{ ref('int_partners_current') }}
),

sources as (
    select * from {{ ref('stg_rules__attribution_sources') }}
),

programs as (
    select program_id, attribution_model from {{ ref('stg_rules__programs') }}
),

{#- Clicks match by click id (signup's or Stripe's) or by the signup's visitor id: three
    equi-joins rather than one OR-join, so each can hash. -#}
click_matches as (
    select customers.program_id, customers.customer_key, clicks.click_id, clicks.partner_code, clicks.occurred_at
    from customers
    inner join clicks
        on customers.program_id = clicks.program_id
        and customers.signup_click_id = clicks.click_id
    union
    select customers.program_id, customers.customer_key, clicks.click_id, clicks.partner_code, clicks.occurred_at
    from customers
    inner join clicks
        on customers.program_id = clicks.program_id
        and customers.stripe_click_id = clicks.click_id
    union
    select customers.program_id, customers.customer_key, clicks.click_id, clicks.partner_code, clicks.occurred_at
    from customers
    inner join clicks
        on customers.program_id = clicks.program_id
        and customers.signup_visitor_id = clicks.visitor_id
),

click_touches as (
    select
        click_matches.program_id,
        click_matches.customer_key,
        'click' as touch_source,
        click_matches.click_id as touch_id,
        click_matches.occurred_at as touched_at,
        partners.partner_id
    from click_matches
    left join partners
        on click_matches.program_id = partners.program_id
        and click_matches.partner_code = partners.partner_code
),

lead_touches as (
    select
        customers.program_id,
        customers.customer_key,
        'lead_form' as touch_source,
        leads.lead_id as touch_id,
        leads.occurred_at as touched_at,
        partners.partner_id
    from customers
    inner join leads
        on customers.program_id = leads.program_id
        and customers.customer_email = leads.email_normalized
    left join partners
        on leads.program_id = partners.program_id
        and leads.partner_code = partners.partner_code
),

{#- The coupon on the first paid event, timed at that event; a code that no coupons row maps
    to a partner is a plain discount, not a touch. -#}
coupon_touches as (
    select
        customers.program_id,
        customers.customer_key,
        'coupon' as touch_source,
        coupons.coupon_code as touch_id,
        customers.first_paid_at as touched_at,
        partners.partner_id
    from customers
    inner join coupons
        on customers.program_id = coupons.program_id
        and customers.first_event_coupon_code = coupons.coupon_code
    left join partners
        on coupons.program_id = partners.program_id
        and coupons.partner_id = partners.partner_id
),

touches as (
    select * from click_touches
    union all
    select * from lead_touches
    union all
    select * from coupon_touches
),

judged as (
    select
        touches.program_id,
        touches.customer_key,
        touches.touch_source,
        touches.touch_id,
        touches.touched_at,
        touches.partner_id,
        customers.converted_at,
        sources.window_days,
        sources.priority as source_priority,
        programs.attribution_model,
        case
            {# a coupon is timed at the first paid event and is always "at or before" #}
            when touches.touch_source != 'coupon' and touches.touched_at > customers.converted_at
                then 'after_conversion'
            when sources.window_days > 0
                and touches.touched_at < {{ dbt.dateadd('day', '-1 * sources.window_days', 'customers.converted_at') }}
                then 'outside_window'
            when touches.partner_id is null then 'unknown_partner'
            when partners.joined_at > touches.touched_at then 'partner_not_joined'
            when partners.terminated_at <= touches.touched_at then 'partner_terminated'
            when partners.partner_email_normalized = customers.customer_email then 'self_referral'
        end as ineligible_reason
    from touches
    inner join customers
        on touches.program_id = customers.program_id
        and touches.customer_key = customers.customer_key
    inner join sources
        on touches.program_id = sources.program_id
        and touches.touch_source = sources.source
    inner join programs
        on touches.program_id = programs.program_id
    left join partners
        on touches.partner_id = partners.partner_id
),

ranked as (
    select
        *,
        case
            when ineligible_reason is null then row_number() over (
                partition by program_id, customer_key, ineligible_reason is null
                order by
                    source_priority,
                    case when attribution_model = 'first_touch' then touched_at end asc,
                    case when attribution_model = 'last_touch' then touched_at end desc,
                    touch_id
            )
        end as eligible_rank
    from judged
),

with_winner as (
    select
        ranked.*,
        winners.source_priority as winner_priority,
        winners.touched_at as winner_touched_at
    from ranked
    left join (select * from ranked where eligible_rank = 1) as winners
        on ranked.program_id = winners.program_id
        and ranked.customer_key = winners.customer_key
),

explained as (
    select
        program_id,
        customer_key,
        touch_source,
        touch_id,
        touched_at,
        partner_id,
        converted_at,
        window_days,
        source_priority,
        attribution_model,
        coalesce(eligible_rank = 1, false) as is_winner,
        case
            when ineligible_reason is not null then ineligible_reason
            when eligible_rank = 1 then null
            when source_priority > winner_priority then 'lower_priority_source'
            when touched_at != winner_touched_at and attribution_model = 'last_touch' then 'older_touch'
            when touched_at != winner_touched_at then 'newer_touch'
            else 'same_time_larger_id'
        end as lost_reason
    from with_winner
)

select * from explained
