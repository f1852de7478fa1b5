{#- Every candidate touch of every customer (SPEC §2.2) with the facts it is judged by and
    the first eligibility rule it breaks (null: eligible). Sources without a row in
    attribution_sources give no candidates. int_customers_attributed picks the winner among
    the eligible; int_touch_verdicts says why each other candidate lost.

    Shaped for tens of millions of clicks (docs/decisions/0011): the clicks are scanned by two
    hash joins, only click ids delivered more than once are versioned, and each touch carries
    the customer and partner facts it is judged by. A table, built once a night: as a view,
    int_customers_attributed and fct_attributions each scanned the clicks again (at M, 2.6–2.9 s
    each, against 1.4–2.2 s for this table and 0.3–0.4 s for each reader; decision 0011).

    Scoped by customer (macros/change_scope.sql, docs/decisions/0026): a customer's candidates
    are a function of its row of int_customers_identified and of the clicks, leads, coupons and
    partners that row matches, so a night recomputes the customers in touch_customers_scope.
    It records them (written_key) for the models below. -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key=['customer_id'],
    incremental_strategy='group_replace',
    written_key='customer_id',
    post_hook="{{ record_scope_marks() }}",
) }}

{{ scope_dependencies(['int_partners_validated']) }}
{%- set scope = scope_reading_keys_of(change_scope(), 'int_customers_identified') %}
-- scope: {{ scope.mode }} ({{ scope.why }})

with
{%- if scope.mode == 'changes' %}

{{ touch_customers_scope(scope) }},
{%- endif %}

customers as (
    select * from {{ ref('int_customers_identified') }}
    {%- if scope.mode == 'changes' %}
    where customer_id in (select scope_groups.customer_id from scope_groups)
    {%- endif %}
),

programs as (
    select program_id, attribution_model from {{ ref('stg_rules__programs') }}
),

{# Click ids delivered more than once (int_clicks_redelivered holds all their records): only
    these need SPEC §1.1 versioning; the newest valid version of each, if visible. #}
redelivered_records as (
    select * from {{ ref('int_clicks_redelivered') }}
),

redelivered_click_ids as (
    select distinct click_id from redelivered_records
),

redelivered_checked as (
    select
        redelivered_records.*,
        {{ record_quarantine_reason(
            'redelivered_records.row_error', 'redelivered_records.occurred_at', 'programs.program_id'
        ) }} as quarantine_reason
    from redelivered_records
    left join programs
        on redelivered_records.program_id = programs.program_id
),

redelivered_ranked as (
    select
        *,
        row_number() over (
            partition by click_id, quarantine_reason is null
            order by delivery_seq desc, line_no desc
        ) as version_rank
    from redelivered_checked
),

redelivered_clicks as (
    select click_id, program_id, partner_code, occurred_at, visitor_id
    from redelivered_ranked
    where quarantine_reason is null
        and version_rank = 1
        and (occurred_at is null or {{ is_visible('occurred_at') }})
),

{# A customer's click ids: the signup's and the first Stripe paid event's (once if equal). #}
customer_click_ids as (
    select
        program_id,
        customer_key,
        customer_id,
        signup_click_id as click_id,
        signup_visitor_id,
        converted_at,
        customer_email
    from customers
    where signup_click_id is not null
    union
    select
        program_id,
        customer_key,
        customer_id,
        stripe_click_id,
        signup_visitor_id,
        converted_at,
        customer_email
    from customers
    where stripe_click_id is not null
),

{# The clicks a customer can match: every record that broke no row rule and is timestamped
    before the as-of, and the newest valid version of each redelivered click. A record of a
    redelivered click id is dropped after the match (cheap there: millions fewer rows), so
    each click is judged by its SPEC §1.1 version. Written out in each of the two joins below
    (the same subquery twice) rather than as a shared CTE, which DuckDB would materialise: 10M
    rows written and read again. -#}
{#- Clicks match by the signup's visitor id, or by a click id: two equi-joins rather than one
    OR-join, so each can hash; a click both match is kept once, from the visitor join. The
    join hashes the id alone and the program is compared after it (wrapped in coalesce so the
    optimiser keeps it out of the hash key): one string hashed per click instead of two. #}
click_candidates as (
    select
        clicks.program_id,
        matched_customers.customer_key,
        matched_customers.customer_id,
        matched_customers.converted_at,
        matched_customers.customer_email,
        clicks.click_id,
        clicks.partner_code,
        clicks.occurred_at,
        clicks.is_versioned
    from (
        select click_id, program_id, partner_code, occurred_at, visitor_id, false as is_versioned
        from {{ ref('int_clicks_delivered') }}
        where row_error is null
            and {{ is_visible('occurred_at') }}
        union all
        select click_id, program_id, partner_code, occurred_at, visitor_id, true as is_versioned
        from redelivered_clicks
    ) as clicks
    inner join customers as matched_customers
        on clicks.visitor_id = matched_customers.signup_visitor_id
    where coalesce(clicks.program_id = matched_customers.program_id, false)
    union all
    select
        clicks.program_id,
        matched_customers.customer_key,
        matched_customers.customer_id,
        matched_customers.converted_at,
        matched_customers.customer_email,
        clicks.click_id,
        clicks.partner_code,
        clicks.occurred_at,
        clicks.is_versioned
    from (
        select click_id, program_id, partner_code, occurred_at, visitor_id, false as is_versioned
        from {{ ref('int_clicks_delivered') }}
        where row_error is null
            and {{ is_visible('occurred_at') }}
        union all
        select click_id, program_id, partner_code, occurred_at, visitor_id, true as is_versioned
        from redelivered_clicks
    ) as clicks
    inner join customer_click_ids as matched_customers
        on clicks.click_id = matched_customers.click_id
    where coalesce(clicks.program_id = matched_customers.program_id, false)
        and not coalesce(clicks.visitor_id = matched_customers.signup_visitor_id, false)
),

click_matches as (
    select *
    from click_candidates
    where is_versioned
        or click_id not in (select redelivered_click_ids.click_id from redelivered_click_ids)
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

{# Candidates by source, each with the customer's conversion and email, and the partner code
    that names its partner (a coupon's partner, by its id, when that partner exists). #}
touches as (
    select
        program_id,
        customer_key,
        customer_id,
        converted_at,
        customer_email,
        'click' as touch_source,
        click_id as touch_id,
        occurred_at as touched_at,
        partner_code
    from click_matches
    union all
    select
        customers.program_id,
        customers.customer_key,
        customers.customer_id,
        customers.converted_at,
        customers.customer_email,
        'lead_form' as touch_source,
        leads.lead_id as touch_id,
        leads.occurred_at as touched_at,
        leads.partner_code
    from customers
    inner join leads
        on customers.program_id = leads.program_id
        and customers.customer_email = leads.email_normalized
    union all
    {# the coupon on the first paid event, timed at that event; a code that no coupons row maps
       to a partner is a plain discount, not a touch #}
    select
        customers.program_id,
        customers.customer_key,
        customers.customer_id,
        customers.converted_at,
        customers.customer_email,
        'coupon' as touch_source,
        coupons.coupon_code as touch_id,
        customers.first_paid_at as touched_at,
        partners.partner_code
    from customers
    inner join coupons
        on customers.program_id = coupons.program_id
        and customers.first_event_coupon_code = coupons.coupon_code
    left join partners
        on coupons.program_id = partners.program_id
        and coupons.partner_id = partners.partner_id
),

{# The timing rules first: they need no partner, so a reader of the eligible touches only
    (int_customers_attributed) looks partners up for the few candidates inside their window. #}
timed as (
    select
        touches.*,
        sources.window_days,
        sources.priority as source_priority,
        programs.attribution_model,
        case
            {# a coupon is timed at the first paid event and is always "at or before" #}
            when touches.touch_source != 'coupon' and touches.touched_at > touches.converted_at
                then 'after_conversion'
            when sources.window_days > 0
                and touches.touched_at < {{ dbt.dateadd('day', '-1 * sources.window_days', 'touches.converted_at') }}
                then 'outside_window'
        end as timing_reason
    from touches
    inner join sources
        on touches.program_id = sources.program_id
        and touches.touch_source = sources.source
    inner join programs
        on touches.program_id = programs.program_id
),

judged as (
    select
        timed.program_id,
        timed.customer_key,
        timed.customer_id,
        timed.touch_source,
        timed.touch_id,
        timed.touched_at,
        timed.partner_code,
        partners.partner_id,
        timed.converted_at,
        timed.window_days,
        timed.source_priority,
        timed.attribution_model,
        timed.timing_reason,
        case
            when timed.timing_reason is not null then timed.timing_reason
            when partners.partner_id is null then 'unknown_partner'
            when partners.joined_at > timed.touched_at then 'partner_not_joined'
            when partners.terminated_at <= timed.touched_at then 'partner_terminated'
            when partners.partner_email_normalized = timed.customer_email then 'self_referral'
        end as ineligible_reason
    from timed
    left join partners
        on timed.program_id = partners.program_id
        and timed.partner_code = partners.partner_code
)

{{ group_scope_select(scope, 'judged', 'scope_groups', ['customer_id']) }}
