{#- The close that settles each accrual entry (SPEC §2.9, §3.2): the first close, in period
    order, whose end is after the entry's available_at and whose run had recorded it. Both
    conditions only become true later in period order (periods end later, and are closed in
    order, so closed_as_of never goes down): the first close meeting both is the later of the
    first close meeting each. The first that ends after available_at is the period of
    available_at (or the program's first period); the first whose run had recorded the entry is
    looked up once per recording night. Written this way, no entry meets more than one close
    row: joining every entry to every close of its program grows with the whole history.
    An entry is settled only when that close has happened (it is not later than the last closed
    period); settled_batch_id is then the batch whose statement counts it.

    One rule in one place, for three readers: int_ledger_entries_settled places every entry
    with it (the settlement walk, ledger_statements, sums them all), fct_ledger_entries places
    the entries of its night's scope only, and fct_statement_entries the entries no earlier
    close settled. Placing every entry to keep a few cost a night the rule's per-row work over
    the whole ledger (fct_ledger_entries' query at M: about 1.5 of its 2.6 s;
    docs/decisions/0012, session 31).

    SQL: CTEs named `<prefix>program_periods`, `<prefix>recordings`,
    `<prefix>first_close_after_recording` and `<prefix>settled`, the last one the rows of
    `placed` (a relation or CTE with program_id, available_at and recorded_at) with four
    columns more: settling_period_start, last_period_start, settled_period_start and
    settled_batch_id. `closes`: the period closes (ledger_period_closes). `recordings`: SQL of
    the distinct (program_id, recorded_at) of `placed`, when it can be read without reading
    `placed` twice (DuckDB would materialize `placed` whole for a second reader); by default
    they are read from `placed`. -#}
{% macro settlement_rule(placed, closes, recordings=none, prefix='') -%}
{{ prefix }}program_periods as (
    select
        program_id,
        min(period_start) as first_period_start,
        max(period_start) as last_period_start
    from {{ closes }}
    group by program_id
),

{{ prefix }}recordings as (
    {%- if recordings %}
    {{ recordings }}
    {%- else %}
    select distinct program_id, recorded_at from {{ placed }}
    {%- endif %}
),

{{ prefix }}first_close_after_recording as (
    select
        recordings.program_id,
        recordings.recorded_at,
        min(closes.period_start) as period_start
    from {{ prefix }}recordings as recordings
    inner join {{ closes }} as closes
        on recordings.program_id = closes.program_id
        and recordings.recorded_at <= closes.closed_as_of
    group by recordings.program_id, recordings.recorded_at
),

{{ prefix }}settling as (
    select
        placed.*,
        case
            when first_close.period_start is not null
                then greatest(
                        {{ month_start('placed.available_at') }},
                        program_periods.first_period_start,
                        first_close.period_start
                    )
        end as settling_period_start,
        program_periods.last_period_start
    from {{ placed }} as placed
    left join {{ prefix }}program_periods as program_periods
        on placed.program_id = program_periods.program_id
    left join {{ prefix }}first_close_after_recording as first_close
        on placed.program_id = first_close.program_id
        and placed.recorded_at = first_close.recorded_at
),

{{ prefix }}settled as (
    select
        settling.*,
        case
            when settling.settling_period_start <= settling.last_period_start
                then settling.settling_period_start
        end as settled_period_start,
        case
            when settling.settling_period_start <= settling.last_period_start
                then settling.program_id || '-' || {{ year_month_text('settling.settling_period_start') }}
        end as settled_batch_id
    from {{ prefix }}settling as settling
)
{%- endmacro %}
