{#- The close that settles each accrual entry (SPEC §2.9, §3.2): the first close, in period
    order, whose end is after the entry's available_at and whose run had recorded it. Both
    conditions only become true later in period order (periods end later, and are closed in
    order, so closed_as_of never goes down): the first close meeting both is the later of the
    first close meeting each. The first that ends after available_at is the period of
    available_at (or the program's first period); the first whose run had recorded the entry is
    looked up once per recording night. Written this way, no entry meets more than one close
    row: joining every entry to every close of its program grows with the whole history.
    An entry is settled only when that close has happened (it is not later than the last closed
    period); settled_batch_id is then the batch whose statement counts it. The settlement walk
    (ledger_statements) and the ledger mart (fct_ledger_entries) both read this one rule.
    A view of the narrow columns the rule needs; fct_ledger_entries joins it back by entry_id. -#}
{{ config(materialized='view') }}

with batches as (
    select * from {{ ref('ledger_period_closes') }}
),

accruals as (
    select * from {{ ref('ledger_entries') }}
),

published as (
    select * from {{ source('raw', 'published_settlements') }}
),

{# The rows the rule places: every ledger entry, and after a rebuild (docs/decisions/0017)
    each published amount taken back (−), recorded at the rebuild: the rebuilt ledger records
    all of history at the rebuild's as-of, so the first close after it would count again what
    the published closes settled. The published amounts themselves stay settled by their
    published close (ledger_statements adds them back there); these rows have no entry_id. #}
placed as (
    select
        entry_id, program_id, partner_id, entry_type, amount_cents, earned_at, available_at,
        recorded_at
    from accruals
    union all
    select
        cast(null as {{ dbt.type_string() }}) as entry_id, program_id, partner_id, entry_type,
        -amount_cents as amount_cents, period_start as earned_at, period_start as available_at,
        rebuilt_as_of as recorded_at
    from published
),

program_periods as (
    select
        program_id,
        min(period_start) as first_period_start,
        max(period_start) as last_period_start
    from batches
    group by program_id
),

recordings as (
    select distinct program_id, recorded_at from placed
),

first_close_after_recording as (
    select
        recordings.program_id,
        recordings.recorded_at,
        min(batches.period_start) as period_start
    from recordings
    inner join batches
        on recordings.program_id = batches.program_id
        and recordings.recorded_at <= batches.closed_as_of
    group by recordings.program_id, recordings.recorded_at
),

settling as (
    select
        placed.*,
        case
            when first_close_after_recording.period_start is not null
                then greatest(
                        {{ month_start('placed.available_at') }},
                        program_periods.first_period_start,
                        first_close_after_recording.period_start
                    )
        end as settling_period_start,
        program_periods.last_period_start
    from placed
    left join program_periods
        on placed.program_id = program_periods.program_id
    left join first_close_after_recording
        on placed.program_id = first_close_after_recording.program_id
        and placed.recorded_at = first_close_after_recording.recorded_at
),

settled as (
    select
        *,
        case
            when settling_period_start <= last_period_start then settling_period_start
        end as settled_period_start
    from settling
)

select
    settled.*,
    case
        when settled.settled_period_start is not null
            then settled.program_id || '-' || {{ year_month_text('settled.settled_period_start') }}
    end as settled_batch_id
from settled
