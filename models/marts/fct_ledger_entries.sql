{#- The ledger (SPEC §2.8): every accrual entry appended by the nightly runs, and the payout
    entries of the closed periods (negative: the amount owed goes down). Both stores are
    append-only, so this table only ever grows. -#}
with accruals as (
    select * from {{ ref('int_ledger_accruals') }}
),

payouts as (
    select * from {{ ref('int_payout_statements') }}
    where payout_cents > 0
),

accrual_entries as (
    select
        entry_id,
        program_id,
        partner_id,
        currency,
        entry_type,
        amount_cents,
        earned_at,
        available_at,
        recorded_at,
        source_key,
        paid_event_type,
        paid_event_id,
        customer_key,
        referred_partner_id,
        tier,
        phase,
        month_number,
        rate_bps,
        rate_version,
        touch_source,
        touch_id,
        cast(null as {{ dbt.type_string() }}) as batch_id
    from accruals
),

payout_entries as (
    select
        {{ dbt.hash("batch_id || '|' || partner_id || '|payout'") }} as entry_id,
        program_id,
        partner_id,
        currency,
        'payout' as entry_type,
        -payout_cents as amount_cents,
        period_end as earned_at,
        period_end as available_at,
        closed_as_of as recorded_at,
        'payout_batch:' || batch_id as source_key,
        cast(null as {{ dbt.type_string() }}) as paid_event_type,
        cast(null as {{ dbt.type_string() }}) as paid_event_id,
        cast(null as {{ dbt.type_string() }}) as customer_key,
        cast(null as {{ dbt.type_string() }}) as referred_partner_id,
        cast(null as {{ dbt.type_string() }}) as tier,
        cast(null as {{ dbt.type_string() }}) as phase,
        cast(null as integer) as month_number,
        cast(null as integer) as rate_bps,
        cast(null as date) as rate_version,
        cast(null as {{ dbt.type_string() }}) as touch_source,
        cast(null as {{ dbt.type_string() }}) as touch_id,
        batch_id
    from payouts
)

select * from accrual_entries
union all
select * from payout_entries
