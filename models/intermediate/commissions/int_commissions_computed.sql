{#- Commissions (SPEC §2.4) and one level of referral commission (SPEC §2.5).
    A commission needs an attributed customer, a paid event at or after the winning touch, a
    partner not terminated at the event, a phase for the month number and a rate valid on the
    event's date for (tier of the event's month, phase). A referral commission goes to the
    partner's recruiter R (another partner of the program, not terminated at the event) and is
    computed from the rounded commission. Entries of 0 cents are not written.

    Scoped (macros/change_scope.sql, docs/decisions/0026): a night recomputes the entries of
    the events whose commission may have changed since the last build:
    - the events whose row int_paid_events_attributed wrote since this model's last build, when
      it recorded them in this build (macros/written_keys.sql, docs/decisions/0029); otherwise
      the events the attributed events may have changed (attributed_events_scope, read from this
      model's commission rows), and every current event of a customer whose numbering may have
      changed (an event that earned nothing before is not stored);
    - every event of a partner whose state differs from the one its entries were computed with
      (`partner_state`: the partner's program, recruiter and termination, and its recruiter's),
      and of a partner with no entry computed with its current state;
    - of the (partner, month)s the tier store wrote since the last build (the months it has
      not frozen, and the month closed tonight): every entry rated at another tier than the
      month has now, and every event without an entry (a tier can give it a rate). -#}
{{ config(
    materialized=('table' if target.type == 'spark' else 'incremental'),
    unique_key='paid_event_key',
    incremental_strategy='scope_replace',
    post_hook="{{ record_scope_marks() }}",
) }}

{{ scope_dependencies(paid_events_scope_inputs() + ['int_paid_events_numbered', 'int_customers_attributed']) }}
{%- set scope = change_scope() %}
{%- set by_written_events = scope.mode == 'changes'
    and wrote_since_my_last_build('int_paid_events_attributed') %}
{%- set why = scope.why ~ ('; events by written keys' if by_written_events else '') %}
-- scope: {{ scope.mode }} ({{ why }})

with partners as (
    select * from {{ ref('int_partners_current') }}
),

{# what an entry depends on of its partner and the partner's recruiter, as one value: an entry
    computed with another value is computed again #}
partner_states as (
    select
        partners.partner_id,
        {{ dbt.hash(
            "concat_ws('|', partners.program_id, "
            ~ "coalesce(partners.recruited_by, '-'), "
            ~ "coalesce(cast(partners.terminated_at as " ~ dbt.type_string() ~ "), '-'), "
            ~ "coalesce(recruiters.program_id, '-'), "
            ~ "coalesce(cast(recruiters.terminated_at as " ~ dbt.type_string() ~ "), '-'))"
        ) }} as partner_state
    from partners
    left join partners as recruiters
        on partners.recruited_by = recruiters.partner_id
),
{%- if scope.mode == 'changes' %}
{%- set stored_commissions -%}
(select * from {{ this }} where entry_type = 'commission')
{%- endset %}

{%- if by_written_events %}

{# every event whose attributed row changed since this model's last build (a row is a function
   of its attributed event, its partner, the tier of its month and the rules) #}
attributed_event_keys as (
    select key_value as paid_event_key
    from ({{ written_key_values('int_paid_events_attributed') }}) as written
),
{%- else %}

{{ attributed_events_scope(scope, stored_commissions) }},
{%- endif %}

changed_partners as (
    select states.partner_id
    from partner_states as states
    where not exists (
        select 1
        from {{ stored_commissions }} as stored
        where stored.partner_id = states.partner_id
            and stored.partner_state = states.partner_state
    )
    union
    select stored.partner_id
    from {{ stored_commissions }} as stored
    left join partner_states as states
        on stored.partner_id = states.partner_id
    where states.partner_state is null
        or stored.partner_state != states.partner_state
),

retiered_months as (
    select partner_id, month_start, tier
    from {{ ref('ledger_partner_tiers_monthly') }}
    where {{ stamped_since(scope, 'evaluated_as_of') }}
),

{# of the months the store wrote since: the entries rated at another tier than the month has
    now, and the events that earned nothing (a tier can give them a rate) #}
retiered_events as (
    select stored.paid_event_key
    from {{ stored_commissions }} as stored
    inner join retiered_months
        on stored.partner_id = retiered_months.partner_id
        and {{ month_start('stored.paid_at') }} = retiered_months.month_start
    where stored.tier != retiered_months.tier
    union
    select current_events.paid_event_key
    from {{ ref('int_paid_events_attributed') }} as current_events
    inner join retiered_months
        on current_events.partner_id = retiered_months.partner_id
        and current_events.paid_month_start = retiered_months.month_start
    where not exists (
        select 1
        from {{ stored_commissions }} as stored
        where stored.paid_event_key = current_events.paid_event_key
    )
),

commission_event_keys as (
    select paid_event_key from attributed_event_keys
    union
    {%- if not by_written_events %}
    select current_events.paid_event_key
    from {{ ref('int_paid_events_attributed') }} as current_events
    inner join scope_customers
        on current_events.program_id = scope_customers.program_id
        and current_events.customer_key = scope_customers.customer_key
    union
    {%- endif %}
    select current_events.paid_event_key
    from {{ ref('int_paid_events_attributed') }} as current_events
    where current_events.partner_id in (select changed_partners.partner_id from changed_partners)
    union
    select stored.paid_event_key
    from {{ stored_commissions }} as stored
    where stored.partner_id in (select changed_partners.partner_id from changed_partners)
    union
    select paid_event_key from retiered_events
),
{%- endif %}

events as (
    select * from {{ ref('int_paid_events_attributed') }}
    {%- if scope.mode == 'changes' %}
    where paid_event_key in (select commission_event_keys.paid_event_key from commission_event_keys)
    {%- endif %}
),

programs as (
    select * from {{ ref('stg_rules__programs') }}
),

phases as (
    select * from {{ ref('stg_rules__phases') }}
),

rates as (
    select * from {{ ref('stg_rules__rates') }}
),

tiers_monthly as (
    select partner_id, month_start, tier from {{ ref('ledger_partner_tiers_monthly') }}
),

eligible_events as (
    select
        events.program_id,
        events.customer_key,
        events.paid_event_key,
        events.paid_event_type,
        events.paid_event_id,
        events.paid_at,
        events.basis_scaled,
        events.event_amount_cents,
        events.month_number,
        events.partner_id,
        events.touch_source,
        events.touch_id,
        events.touched_at,
        partner_states.partner_state,
        programs.hold_days,
        programs.currency,
        programs.referral_rate_bps,
        partners.recruited_by,
        phases.phase,
        tiers_monthly.tier
    from events
    inner join partners
        on events.partner_id = partners.partner_id
    inner join partner_states
        on events.partner_id = partner_states.partner_id
    inner join programs
        on events.program_id = programs.program_id
    inner join phases
        on events.program_id = phases.program_id
        and events.month_number >= phases.from_month
        and (phases.to_month is null or events.month_number <= phases.to_month)
    inner join tiers_monthly
        on events.partner_id = tiers_monthly.partner_id
        and events.paid_month_start = tiers_monthly.month_start
    where events.paid_at >= events.touched_at
        and (partners.terminated_at is null or partners.terminated_at > events.paid_at)
),

{# The rate version valid on an event's date (SPEC §2.4: the newest valid_from on or before
    it), chosen once per (program, tier, phase, day) the events fall on: a few thousand days
    rather than a million events at M, where ranking per event (its whole row carried) cost
    more than the rest of the model. #}
event_days as (
    select distinct
        program_id,
        tier,
        phase,
        cast(paid_at as date) as paid_date
    from eligible_events
),

day_rates as (
    select
        event_days.program_id,
        event_days.tier,
        event_days.phase,
        event_days.paid_date,
        rates.rate_bps,
        rates.valid_from as rate_version,
        row_number() over (
            partition by event_days.program_id, event_days.tier, event_days.phase, event_days.paid_date
            order by rates.valid_from desc
        ) as rate_choice
    from event_days
    inner join rates
        on event_days.program_id = rates.program_id
        and event_days.tier = rates.tier
        and event_days.phase = rates.phase
        and event_days.paid_date >= rates.valid_from
),

rated as (
    select
        eligible_events.*,
        day_rates.rate_bps,
        day_rates.rate_version
    from eligible_events
    inner join day_rates
        on eligible_events.program_id = day_rates.program_id
        and eligible_events.tier = day_rates.tier
        and eligible_events.phase = day_rates.phase
        and cast(eligible_events.paid_at as date) = day_rates.paid_date
    where day_rates.rate_choice = 1
),

commissions as (
    select
        program_id,
        partner_id,
        currency,
        'commission' as entry_type,
        paid_event_key,
        paid_event_type,
        paid_event_id,
        customer_key,
        cast(null as {{ dbt.type_string() }}) as referred_partner_id,
        paid_at,
        hold_days,
        event_amount_cents,
        tier,
        phase,
        month_number,
        rate_bps,
        rate_version,
        touch_source,
        touch_id,
        touched_at,
        partner_state,
        recruited_by,
        referral_rate_bps,
        {{ bps_of_scaled('basis_scaled', 'rate_bps') }} as amount_cents
    from rated
),

referrals as (
    select
        commissions.program_id,
        recruiters.partner_id,
        commissions.currency,
        'referral_commission' as entry_type,
        commissions.paid_event_key,
        commissions.paid_event_type,
        commissions.paid_event_id,
        commissions.customer_key,
        commissions.partner_id as referred_partner_id,
        commissions.paid_at,
        commissions.hold_days,
        commissions.event_amount_cents,
        commissions.tier,
        commissions.phase,
        commissions.month_number,
        commissions.referral_rate_bps as rate_bps,
        commissions.rate_version,
        commissions.touch_source,
        commissions.touch_id,
        commissions.touched_at,
        commissions.partner_state,
        recruiters.recruited_by,
        commissions.referral_rate_bps,
        {{ bps_of_cents('commissions.amount_cents', 'commissions.referral_rate_bps') }} as amount_cents
    from commissions
    inner join partners as recruiters
        on commissions.recruited_by = recruiters.partner_id
        and commissions.program_id = recruiters.program_id
        and commissions.partner_id != recruiters.partner_id
    where commissions.amount_cents != 0
        and (recruiters.terminated_at is null or recruiters.terminated_at > commissions.paid_at)
),

earned as (
    select * from commissions
    union all
    select * from referrals
),

{# the ledger's columns, and what the scope compares (touched_at, partner_state): the
    referral's working columns (recruited_by, referral_rate_bps) dropped #}
computed as (
    select {{ [
        'program_id', 'partner_id', 'currency', 'entry_type', 'paid_event_key', 'paid_event_type',
        'paid_event_id', 'customer_key', 'referred_partner_id', 'paid_at', 'hold_days',
        'event_amount_cents', 'tier', 'phase', 'month_number', 'rate_bps', 'rate_version',
        'touch_source', 'touch_id', 'touched_at', 'partner_state', 'amount_cents',
    ] | join(', ') }}
    from earned
    where amount_cents != 0
)

{{ scope_select(scope, 'computed', 'commission_event_keys', 'paid_event_key') }}
